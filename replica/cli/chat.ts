/**
 * `chat`: one chat operation from the shell, through the client library (leader following, bounded retries).
 *   npm run --silent chat -- --servers HOST:PORT[,...] --user NAME [--password-stdin] [--json] COMMAND [ARGS]
 * Every command but signup logs in first and logs out at the end (delete-account ends the login itself).
 * With --json stdout holds exactly one JSON document; failures print `CODE: message` on stderr.
 */
import WebSocket from 'ws';
import { QuorumClient } from '../client/index.js';
import type { ClientLogger, WebSocketConstructor } from '../client/index.js';
import { QuorumError } from '../protocol/index.js';
import type { ChatMessage } from '../protocol/index.js';
import { CHAT_USAGE, parseChatArgs } from './args.js';
import { reportUsageError, UsageError } from './usage.js';
import type { ChatArgs } from './args.js';
import { promptPassword, readPasswordFromStdin } from './password.js';
import { clientUrl, trustFromCaFile, trustedWebSocket, TrustError } from '../security/client-tls.js';

export interface ChatIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Returns the password: `confirm` asks twice (signup on a terminal). */
  password(fromStdin: boolean, confirm: boolean): Promise<string>;
  WebSocket: WebSocketConstructor;
  log?: ClientLogger;
}

export interface MessageDoc {
  id: number;
  from: string;
  to: string;
  text: string;
  sentAt: number;
  /** When the sender last edited it; null when never. */
  editedAt: number | null;
  /** The group it was sent to; null for a one-to-one message. */
  group: string | null;
}

/** What a command prints: the JSON document, and the same facts for people. */
interface Outcome {
  json: unknown;
  human: string;
}

export function defaultChatIO(): ChatIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    password: async (fromStdin, confirm) => {
      if (fromStdin) return readPasswordFromStdin();
      const first = await promptPassword('Password: ');
      if (confirm) {
        const again = await promptPassword('Repeat the password: ');
        if (again !== first) throw new QuorumError('INVALID', 'the two passwords differ');
      }
      return first;
    },
    WebSocket,
  };
}

export async function main(argv: string[], io: ChatIO = defaultChatIO()): Promise<number> {
  let args: ChatArgs;
  try {
    args = parseChatArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) return reportUsageError(err, CHAT_USAGE, io);
    throw err;
  }
  try {
    // A CA file that cannot be used is reported before the password is asked for.
    if (args.caFile) trustFromCaFile(args.caFile);
    const password = await io.password(args.passwordStdin, args.command.name === 'signup');
    const outcome = await runChat(args, password, io);
    io.stdout.write(args.json ? `${JSON.stringify(outcome.json)}\n` : `${outcome.human}\n`);
    return 0;
  } catch (err) {
    return failure(err, io);
  }
}

/** Runs the parsed command against the cluster; the client is always closed afterwards. */
export async function runChat(args: ChatArgs, password: string, io: ChatIO): Promise<Outcome> {
  const trust = args.caFile ? trustFromCaFile(args.caFile) : null;
  const client = new QuorumClient({
    servers: args.servers,
    WebSocket: trust ? trustedWebSocket(trust) : io.WebSocket,
    url: (address) => clientUrl(trust, address),
    giveUpAfterMs: args.timeoutMs,
    requestTimeoutMs: Math.min(10_000, args.timeoutMs),
    connectTimeoutMs: Math.min(5_000, args.timeoutMs),
    backoff: { initialMs: 50, maxMs: 1_000 },
    // The shell user never saw pushed messages, so they are not acknowledged as delivered.
    autoDelivered: false,
    log: io.log,
  });
  try {
    const command = args.command;
    if (command.name === 'signup') {
      const result = await client.signup(args.user, password);
      return { json: { user: result.user }, human: `signed up ${result.user}` };
    }
    const login = await client.login(args.user, password);
    if (command.name === 'delete-account') {
      const result = await client.deleteAccount(password);
      return { json: { deleted: result.deleted }, human: `deleted the account ${login.user}` };
    }
    let failed: unknown = null;
    try {
      return await loggedIn(client, command, login);
    } catch (err) {
      failed = err;
      throw err;
    } finally {
      // Log out even when the command was refused, unless the cluster is out of reach (that would only wait again).
      const unreachable = failed instanceof QuorumError && ['UNAVAILABLE', 'TIMEOUT', 'NO_QUORUM'].includes(failed.code);
      if (!unreachable) {
        await client.logout().catch((err: unknown) => {
          // The login expires on its own; the command's own outcome stands.
          io.stderr.write(`warning: logout failed: ${describe(err)}\n`);
        });
      }
    }
  } finally {
    client.close();
  }
}

async function loggedIn(
  client: QuorumClient,
  command: Exclude<ChatArgs['command'], { name: 'signup' | 'delete-account' }>,
  login: { user: string; unread: number },
): Promise<Outcome> {
  switch (command.name) {
    case 'login':
      return {
        json: { user: login.user, unread: login.unread },
        human: `logged in as ${login.user}: ${plural(login.unread, 'unread message')}`,
      };
    case 'accounts': {
      const result = await client.accounts({ pattern: command.pattern, limit: command.limit, pageToken: command.pageToken });
      const accounts = result.accounts.map((a) => ({ username: a.username }));
      const lines = accounts.length ? accounts.map((a) => a.username) : ['no accounts match'];
      if (result.nextPageToken) lines.push(`(more: --page-token ${result.nextPageToken})`);
      return { json: { accounts, nextPageToken: result.nextPageToken ?? null }, human: lines.join('\n') };
    }
    case 'send': {
      if ('group' in command) {
        const result = await client.sendToGroup(command.group, command.text);
        return { json: { id: result.id }, human: `sent message ${result.id} to #${command.group}` };
      }
      const result = await client.send(command.to, command.text);
      return { json: { id: result.id }, human: `sent message ${result.id} to ${command.to}` };
    }
    case 'groups': {
      const { groups } = await client.groups();
      const docs = groups.map((g) => ({ name: g.name, members: g.members, unread: g.unread }));
      const human = docs.length ? docs.map((g) => `#${g.name}  ${plural(g.unread, 'unread message')}  ${g.members.join(', ')}`).join('\n') : 'no groups';
      return { json: { groups: docs }, human };
    }
    case 'group': {
      if (command.action === 'leave') {
        await client.leaveGroup(command.group);
        return { json: { left: true }, human: `left #${command.group}` };
      }
      const { group } =
        command.action === 'rename'
          ? await client.renameGroup(command.group, command.newName)
          : command.action === 'create'
            ? await client.createGroup(command.group, command.members)
            : command.action === 'add'
              ? await client.addMembers(command.group, command.members)
              : await client.removeMembers(command.group, command.members);
      return { json: { group: { name: group.name, members: group.members } }, human: `#${group.name}: ${group.members.join(', ')}` };
    }
    case 'read':
      return messagesOutcome((await client.read(command.limit)).messages, 'no unread messages');
    case 'history': {
      if ('group' in command) {
        const result = await client.groupHistory(command.group, { limit: command.limit, before: command.before });
        return messagesOutcome(result.messages, `no messages in #${command.group}`);
      }
      const result = await client.history(command.with, { limit: command.limit, before: command.before });
      return messagesOutcome(result.messages, `no messages with ${command.with}`);
    }
    case 'delete': {
      const result = await client.delete(command.ids);
      return { json: { deleted: result.deleted }, human: `deleted ${plural(result.deleted, 'message')}` };
    }
    case 'edit': {
      const result = await client.edit(command.messageId, command.text);
      return { json: { edited: result.edited }, human: `edited message ${command.messageId}` };
    }
    case 'search': {
      const { messages } = await client.search(command.query, { limit: command.limit });
      // Best match first, as the cluster ranked them (not by id).
      const docs = messages.map((m) => ({ ...messageDoc(m), matches: m.matches }));
      const human = docs.length ? docs.map((d) => formatMessage({ ...d, text: bracketMatches(d.text, d.matches) })).join('\n') : `no messages match "${command.query}"`;
      return { json: { messages: docs }, human };
    }
  }
}

/** The text with each matched run in [brackets], for people. */
function bracketMatches(text: string, matches: [number, number][]): string {
  let out = '';
  let at = 0;
  for (const [start, end] of matches) {
    out += `${text.slice(at, start)}[${text.slice(start, end)}]`;
    at = end;
  }
  return out + text.slice(at);
}

function messageDoc(m: ChatMessage): MessageDoc {
  return { id: m.id, from: m.from, to: m.to, text: m.text, sentAt: m.sentAt, editedAt: m.editedAt ?? null, group: m.group ?? null };
}

function messagesOutcome(messages: ChatMessage[], empty: string): Outcome {
  const docs: MessageDoc[] = [...messages]
    .sort((a, b) => a.id - b.id)
    .map(messageDoc);
  const human = docs.length ? docs.map(formatMessage).join('\n') : empty;
  return { json: { messages: docs }, human };
}

export function formatMessage(m: MessageDoc): string {
  const when = new Date(m.sentAt).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return `#${m.id}  ${when}  ${m.from} -> ${m.to}: ${m.text}${m.editedAt === null ? '' : ' (edited)'}`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function describe(err: unknown): string {
  if (err instanceof QuorumError) return `${err.code}: ${err.message}`;
  if (err instanceof TrustError) return `INVALID: ${err.message}`;
  return `INTERNAL: ${err instanceof Error ? err.message : String(err)}`;
}

/** `CODE: message` on stderr; exit 2 for bad input (INVALID), 130 for an interrupted prompt, 1 otherwise. */
function failure(err: unknown, io: Pick<ChatIO, 'stderr'>): number {
  io.stderr.write(`${describe(err)}\n`);
  const exitCode = (err as { exitCode?: unknown } | null)?.exitCode;
  if (typeof exitCode === 'number') return exitCode;
  return (err instanceof QuorumError && err.code === 'INVALID') || err instanceof TrustError ? 2 : 1;
}
