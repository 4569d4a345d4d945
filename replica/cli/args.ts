/**
 * Argument parsing for the `chat` and `status` commands (node:util parseArgs; options may come before or after
 * the command). Pure: no I/O, so every form and every error is unit-tested. Bad arguments throw UsageError
 * (replica/cli/usage.ts), which the commands report as `INVALID: message` with exit code 2 and the usage.
 */
import { GroupName, LIMITS, Pattern, Username } from '../protocol/index.js';
import { parseAddressList, parseCommandLine, parseTimeout, positiveInt, UsageError } from './usage.js';

export const CHAT_USAGE = `usage: npm run --silent chat -- --servers HOST:PORT[,HOST:PORT...] --user NAME [--password-stdin] [--json]
                              [--timeout SECONDS] [--ca-file FILE] COMMAND [ARGS]
commands:
  signup                                       create the account NAME
  login                                        check the password; report unread messages
  accounts [PATTERN] [--limit K] [--page-token T]
                                               list accounts ("*" any run, "?" one character)
  send TO TEXT                                 send TEXT to account TO, or to group '#NAME'
  read [--limit N]                             show unread messages, groups' too (oldest first) and mark them read
  history WITH [--limit N] [--before ID]       show the conversation with WITH, or group '#NAME' (oldest first)
  groups                                       list your groups with members and unread counts
  group create NAME MEMBER...                  create group NAME with you and the MEMBERs (you are its admin)
  group add NAME MEMBER... | group remove NAME MEMBER...
                                               add or remove members (admins only)
  group leave NAME                             leave group NAME
  group rename NAME NEW                        rename group NAME to NEW (admins only)
  delete ID...                                 delete messages by id
  edit ID TEXT                                 replace the text of message ID (one you sent)
  search QUERY [--limit N]                     find messages you may see (best first; matches in [brackets])
  delete-account                               delete the account NAME and log out everywhere
options:
  --password-stdin   read the password from standard input (else prompt on the terminal, without echo)
  --json             print exactly one JSON document on stdout
  --timeout SECONDS  give up when no leader answered for this long (default 15)
  --ca-file FILE     connect over TLS (wss://), trusting the certificates FILE vouches for: the cluster-ca.pem of a
                     replica's data folder, or the authority of the replicas' operator certificate
failure: non-zero exit status and "CODE: message" on standard error`;

export const STATUS_USAGE = `usage: npm run --silent status -- --servers HOST:PORT[,HOST:PORT...] [--json] [--timeout SECONDS] [--ca-file FILE]
  --ca-file FILE: connect over TLS, trusting the certificates FILE vouches for (a replica's cluster-ca.pem)
  asks every listed replica (and every member they report) for its status; one row per replica.
  exit status 0 when at least one replica answered, 1 when none did.`;

export const DEFAULT_CHAT_TIMEOUT_MS = 15_000;
export const DEFAULT_STATUS_TIMEOUT_MS = 5_000;

export type ChatCommand =
  | { name: 'signup' }
  | { name: 'login' }
  | { name: 'accounts'; pattern?: string; limit?: number; pageToken?: string }
  | { name: 'send'; to: string; text: string }
  | { name: 'send'; group: string; text: string }
  | { name: 'read'; limit?: number }
  | { name: 'history'; with: string; limit?: number; before?: number }
  | { name: 'history'; group: string; limit?: number; before?: number }
  | { name: 'groups' }
  | { name: 'group'; action: 'create' | 'add' | 'remove'; group: string; members: string[] }
  | { name: 'group'; action: 'leave'; group: string }
  | { name: 'group'; action: 'rename'; group: string; newName: string }
  | { name: 'delete'; ids: number[] }
  | { name: 'edit'; messageId: number; text: string }
  | { name: 'search'; query: string; limit?: number }
  | { name: 'delete-account' };

export type ChatCommandName = ChatCommand['name'];
export const CHAT_COMMANDS: readonly ChatCommandName[] = [
  'signup',
  'login',
  'accounts',
  'send',
  'read',
  'history',
  'delete',
  'edit',
  'search',
  'groups',
  'group',
  'delete-account',
];

export interface ChatArgs {
  servers: string[];
  /** Connect over TLS trusting this PEM file (--ca-file); plain ws:// without it. */
  caFile?: string;
  user: string;
  passwordStdin: boolean;
  json: boolean;
  timeoutMs: number;
  command: ChatCommand;
}

export interface StatusArgs {
  servers: string[];
  /** Connect over TLS trusting this PEM file (--ca-file). */
  caFile?: string;
  json: boolean;
  timeoutMs: number;
}

/** Options each command accepts beyond the common ones. */
const COMMAND_OPTIONS: Record<ChatCommandName, readonly string[]> = {
  signup: [],
  login: [],
  accounts: ['limit', 'page-token'],
  send: [],
  read: ['limit'],
  history: ['limit', 'before'],
  delete: [],
  edit: [],
  search: ['limit'],
  groups: [],
  group: [],
  'delete-account': [],
};

export function parseChatArgs(argv: string[]): ChatArgs {
  const { values, positionals } = parseCommandLine(argv, {
    servers: { type: 'string' },
    user: { type: 'string' },
    'password-stdin': { type: 'boolean' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
    'ca-file': { type: 'string' },
    limit: { type: 'string' },
    'page-token': { type: 'string' },
    before: { type: 'string' },
  }, { allowPositionals: true });
  const [name, ...rest] = positionals;
  if (name === undefined) throw new UsageError(`a COMMAND is needed (one of ${CHAT_COMMANDS.join(', ')})`);
  if (!(CHAT_COMMANDS as readonly string[]).includes(name)) {
    throw new UsageError(`unknown command "${name}" (one of ${CHAT_COMMANDS.join(', ')})`);
  }
  const commandName = name as ChatCommandName;
  for (const option of ['limit', 'page-token', 'before'] as const) {
    if (values[option] !== undefined && !COMMAND_OPTIONS[commandName].includes(option)) {
      throw new UsageError(`--${option} does not apply to ${commandName}`);
    }
  }
  const servers = parseAddressList(values.servers, '--servers');
  if (values.user === undefined) throw new UsageError('--user NAME is needed');
  const user = username(values.user, '--user');
  const limit = values.limit === undefined ? undefined : positiveInt(values.limit, '--limit', LIMITS.pageMax);
  const command = parseCommand(commandName, rest, {
    limit,
    pageToken: values['page-token'],
    before: values.before === undefined ? undefined : positiveInt(values.before, '--before', Number.MAX_SAFE_INTEGER),
  });
  return {
    servers,
    ...(values['ca-file'] !== undefined ? { caFile: caFile(values['ca-file']) } : {}),
    user,
    passwordStdin: values['password-stdin'] ?? false,
    json: values.json ?? false,
    timeoutMs: values.timeout === undefined ? DEFAULT_CHAT_TIMEOUT_MS : parseTimeout(values.timeout),
    command,
  };
}

export function parseStatusArgs(argv: string[]): StatusArgs {
  const { values, positionals } = parseCommandLine(argv, {
    servers: { type: 'string' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
    'ca-file': { type: 'string' },
  }, { allowPositionals: true });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  return {
    servers: parseAddressList(values.servers, '--servers'),
    ...(values['ca-file'] !== undefined ? { caFile: caFile(values['ca-file']) } : {}),
    json: values.json ?? false,
    timeoutMs: values.timeout === undefined ? DEFAULT_STATUS_TIMEOUT_MS : parseTimeout(values.timeout),
  };
}

function parseCommand(
  name: ChatCommandName,
  args: string[],
  options: { limit?: number; pageToken?: string; before?: number },
): ChatCommand {
  const arity = (min: number, max: number, shape: string): void => {
    if (args.length < min || args.length > max) {
      const extra = name === 'send' && args.length > 2 ? ' (quote TEXT when it has spaces)' : '';
      throw new UsageError(`${name} takes ${shape}; got ${args.length} argument${args.length === 1 ? '' : 's'}${extra}`);
    }
  };
  switch (name) {
    case 'signup':
    case 'login':
    case 'groups':
    case 'delete-account':
      arity(0, 0, 'no arguments');
      return { name };
    case 'group': {
      const [action, group, ...more] = args;
      switch (action) {
        case 'create':
        case 'add':
        case 'remove':
          if (group === undefined || (action !== 'create' && more.length === 0)) throw new UsageError(`group ${action} takes NAME and MEMBER...`);
          if (more.length > LIMITS.groupMembersMax - 1) throw new UsageError(`a group has at most ${LIMITS.groupMembersMax} members`);
          return { name, action, group: groupName(group, 'NAME'), members: more.map((m) => username(m, 'MEMBER')) };
        case 'leave':
          if (group === undefined || more.length) throw new UsageError('group leave takes NAME');
          return { name, action, group: groupName(group, 'NAME') };
        case 'rename':
          if (group === undefined || more.length !== 1) throw new UsageError('group rename takes NAME and NEW');
          return { name, action, group: groupName(group, 'NAME'), newName: groupName(more[0], 'NEW') };
        default:
          throw new UsageError(`group takes create, add, remove, leave or rename (got "${action ?? ''}")`);
      }
    }
    case 'accounts': {
      arity(0, 1, 'at most one PATTERN');
      const command: ChatCommand = { name };
      if (args[0] !== undefined) {
        const checked = Pattern.safeParse(args[0]);
        if (!checked.success) throw new UsageError(`PATTERN "${args[0]}": ${checked.error.issues[0]?.message ?? 'invalid'}`);
        command.pattern = args[0];
      }
      if (options.limit !== undefined) command.limit = options.limit;
      if (options.pageToken !== undefined) {
        if (options.pageToken.length === 0 || options.pageToken.length > LIMITS.usernameMax + 8) {
          throw new UsageError('--page-token: use the token a previous page printed');
        }
        command.pageToken = options.pageToken;
      }
      return command;
    }
    case 'send': {
      arity(2, 2, 'TO and TEXT');
      if (args[0].startsWith('#')) return { name, group: groupName(args[0].slice(1), 'TO'), text: messageText(args[1]) };
      return { name, to: username(args[0], 'TO'), text: messageText(args[1]) };
    }
    case 'edit': {
      arity(2, 2, 'ID and TEXT');
      return { name, messageId: positiveInt(args[0], 'ID', Number.MAX_SAFE_INTEGER), text: messageText(args[1]) };
    }
    case 'search': {
      arity(1, 1, 'one QUERY (quote it when it has several words)');
      const query = args[0];
      if (query.trim().length === 0 || query.length > LIMITS.searchQueryMax) {
        throw new UsageError(`QUERY must be 1 to ${LIMITS.searchQueryMax} characters with at least one word`);
      }
      return options.limit === undefined ? { name, query } : { name, query, limit: options.limit };
    }
    case 'read': {
      arity(0, 0, 'no arguments (use --limit N)');
      return options.limit === undefined ? { name } : { name, limit: options.limit };
    }
    case 'history': {
      arity(1, 1, "one account name WITH, or a group '#NAME'");
      const command: ChatCommand = args[0].startsWith('#') ? { name, group: groupName(args[0].slice(1), 'WITH') } : { name, with: username(args[0], 'WITH') };
      if (options.limit !== undefined) command.limit = options.limit;
      if (options.before !== undefined) command.before = options.before;
      return command;
    }
    case 'delete': {
      if (args.length === 0) throw new UsageError('delete takes one or more message IDs');
      if (args.length > LIMITS.deleteMax) throw new UsageError(`delete takes at most ${LIMITS.deleteMax} IDs at a time`);
      return { name, ids: args.map((a) => positiveInt(a, 'ID', Number.MAX_SAFE_INTEGER)) };
    }
  }
}

function messageText(text: string): string {
  if (text.length < LIMITS.textMin || text.length > LIMITS.textMax) {
    throw new UsageError(`TEXT must be ${LIMITS.textMin} to ${LIMITS.textMax} characters (got ${text.length})`);
  }
  return text;
}

function caFile(text: string): string {
  if (text.trim() === '') throw new UsageError('--ca-file needs a FILE (e.g. the cluster-ca.pem of a replica\'s data folder)');
  return text;
}

/** A group name as written on the command line (`#` already taken off where it was given). */
function groupName(text: string, what: string): string {
  const checked = GroupName.safeParse(text.startsWith('#') ? text.slice(1) : text);
  if (!checked.success) throw new UsageError(`${what} "${text}": ${checked.error.issues[0]?.message ?? 'not a valid group name'}`);
  return checked.data;
}

function username(text: string, what: string): string {
  const checked = Username.safeParse(text);
  if (!checked.success) throw new UsageError(`${what} "${text}": ${checked.error.issues[0]?.message ?? 'not a valid username'}`);
  return text;
}
