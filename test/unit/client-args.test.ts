// Argument parsing of the `chat` and `status` commands: every command form, options before or after the command,
// and every kind of bad input (a UsageError, reported as INVALID with exit code 2).
import { describe, expect, it } from 'vitest';
import { parseChatArgs, parseStatusArgs } from '../../replica/cli/args.js';
import { parseAddressList, parseTimeout, UsageError } from '../../replica/cli/usage.js';

const common = ['--servers', '127.0.0.1:7001,127.0.0.1:7002', '--user', 'alice'];

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('parseChatArgs', () => {
  it('parses every command form', () => {
    const cases: [string[], unknown][] = [
      [['signup'], { name: 'signup' }],
      [['login'], { name: 'login' }],
      [['accounts'], { name: 'accounts' }],
      [['accounts', 'a*', '--limit', '10', '--page-token', 'bob'], { name: 'accounts', pattern: 'a*', limit: 10, pageToken: 'bob' }],
      [['send', 'bob', 'hello there'], { name: 'send', to: 'bob', text: 'hello there' }],
      [['send', 'bob', '--', '--not-an-option'], { name: 'send', to: 'bob', text: '--not-an-option' }],
      [['read'], { name: 'read' }],
      [['read', '--limit', '5'], { name: 'read', limit: 5 }],
      [['history', 'bob'], { name: 'history', with: 'bob' }],
      [['history', 'bob', '--limit', '20', '--before', '99'], { name: 'history', with: 'bob', limit: 20, before: 99 }],
      [['delete', '3', '5', '8'], { name: 'delete', ids: [3, 5, 8] }],
      [['delete-account'], { name: 'delete-account' }],
      [['edit', '12', 'fixed text'], { name: 'edit', messageId: 12, text: 'fixed text' }],
      [['search', 'release notes', '--limit', '3'], { name: 'search', query: 'release notes', limit: 3 }],
      [['send', '#team', 'hello all'], { name: 'send', group: 'team', text: 'hello all' }],
      [['history', '#team', '--before', '40'], { name: 'history', group: 'team', before: 40 }],
      [['groups'], { name: 'groups' }],
      [['group', 'create', 'team'], { name: 'group', action: 'create', group: 'team', members: [] }],
      [['group', 'create', '#team', 'bob', 'carl'], { name: 'group', action: 'create', group: 'team', members: ['bob', 'carl'] }],
      [['group', 'add', 'team', 'dora'], { name: 'group', action: 'add', group: 'team', members: ['dora'] }],
      [['group', 'remove', 'team', 'dora'], { name: 'group', action: 'remove', group: 'team', members: ['dora'] }],
      [['group', 'leave', 'team'], { name: 'group', action: 'leave', group: 'team' }],
      [['group', 'rename', 'team', 'crew'], { name: 'group', action: 'rename', group: 'team', newName: 'crew' }],
    ];
    for (const [argv, command] of cases) {
      expect(parseChatArgs([...common, ...argv]).command).toEqual(command);
    }
  });

  it('refuses bad group, edit and search arguments', () => {
    expect(usageError(() => parseChatArgs([...common, 'group', 'add', 'team'])).message).toBe('group add takes NAME and MEMBER...');
    expect(usageError(() => parseChatArgs([...common, 'group', 'create', 'bad name'])).message).toMatch(/^NAME "bad name": group names use letters/);
    expect(usageError(() => parseChatArgs([...common, 'group', 'join', 'team'])).message).toMatch(/^group takes create, add, remove, leave or rename/);
    expect(usageError(() => parseChatArgs([...common, 'send', '#', 'x'])).message).toMatch(/^TO "":/);
    expect(usageError(() => parseChatArgs([...common, 'edit', 'x', 'text'])).message).toMatch(/^ID "x" must be a positive whole number/);
    expect(usageError(() => parseChatArgs([...common, 'search', '  '])).message).toMatch(/^QUERY must be 1 to 200 characters/);
    expect(usageError(() => parseChatArgs([...common, 'groups', '--limit', '3'])).message).toBe('--limit does not apply to groups');
  });

  it('reads the common options, before or after the command', () => {
    const before = parseChatArgs(['--json', '--password-stdin', '--timeout', '3', ...common, 'read']);
    const after = parseChatArgs(['read', ...common, '--timeout', '3', '--password-stdin', '--json']);
    const expected = {
      servers: ['127.0.0.1:7001', '127.0.0.1:7002'],
      user: 'alice',
      passwordStdin: true,
      json: true,
      timeoutMs: 3000,
      command: { name: 'read' },
    };
    expect(before).toEqual(expected);
    expect(after).toEqual(expected);
    expect(parseChatArgs([...common, 'login'])).toMatchObject({ passwordStdin: false, json: false, timeoutMs: 15_000 });
  });

  it('refuses bad arguments with a clear message', () => {
    const bad: [string[], RegExp][] = [
      [[...common], /COMMAND is needed/],
      [[...common, 'dance'], /unknown command "dance"/],
      [['--user', 'alice', 'login'], /--servers/],
      [['--servers', '127.0.0.1:1', 'login'], /--user NAME is needed/],
      [['--servers', 'nohostport', '--user', 'alice', 'login'], /"nohostport" is not HOST:PORT/],
      [['--servers', 'h:70000', '--user', 'alice', 'login'], /not HOST:PORT/],
      [['--servers', 'a:1,,b:2', '--user', 'alice', 'login'], /empty address/],
      [['--servers', 'h:1', '--user', 'bad name', 'login'], /--user "bad name"/],
      [[...common, 'login', 'extra'], /login takes no arguments/],
      [[...common, 'send', 'bob'], /send takes TO and TEXT; got 1 argument$/],
      [[...common, 'send', 'bob', 'two', 'words'], /quote TEXT/],
      [[...common, 'send', 'bob', ''], /TEXT must be 1 to 4000/],
      [[...common, 'send', 'not/valid', 'hi'], /TO "not\/valid"/],
      [[...common, 'history'], /history takes one account name/],
      [[...common, 'delete'], /one or more message IDs/],
      [[...common, 'delete', '3', 'x'], /ID "x" must be a positive whole number/],
      [[...common, 'delete', '0'], /ID "0" must be between 1/],
      [[...common, 'read', '--limit', '0'], /--limit "0"/],
      [[...common, 'read', '--limit', '501'], /--limit "501" must be between 1 and 500/],
      [[...common, 'read', '--limit'], /argument missing/],
      [[...common, 'send', 'bob', 'hi', '--limit', '3'], /--limit does not apply to send/],
      [[...common, 'read', '--before', '3'], /--before does not apply to read/],
      [[...common, 'history', 'bob', '--page-token', 'x'], /--page-token does not apply to history/],
      [[...common, 'accounts', 'a b'], /PATTERN "a b"/],
      [[...common, 'accounts', 'a', 'b'], /at most one PATTERN/],
      [[...common, '--verbose', 'login'], /Unknown option '--verbose'/],
      [[...common, '--timeout', 'soon', 'login'], /--timeout "soon"/],
    ];
    for (const [argv, message] of bad) {
      const err = usageError(() => parseChatArgs(argv));
      expect(err.help).toBe(false);
      expect(err.message).toMatch(message);
    }
  });

  it('treats --help as a request for the usage', () => {
    expect(usageError(() => parseChatArgs(['--help'])).help).toBe(true);
    expect(usageError(() => parseChatArgs(['-h', 'send'])).help).toBe(true);
  });
});

describe('parseStatusArgs and shared parsers', () => {
  it('parses the status command', () => {
    expect(parseStatusArgs(['--servers', 'a:1,b:2,a:1'])).toEqual({ servers: ['a:1', 'b:2'], json: false, timeoutMs: 5000 });
    expect(parseStatusArgs(['--json', '--servers', '[::1]:7400', '--timeout', '750ms'])).toEqual({
      servers: ['[::1]:7400'],
      json: true,
      timeoutMs: 750,
    });
    expect(usageError(() => parseStatusArgs([])).message).toMatch(/--servers/);
    expect(usageError(() => parseStatusArgs(['--servers', 'a:1', 'extra'])).message).toMatch(/unexpected argument "extra"/);
    expect(usageError(() => parseStatusArgs(['--servers', 'a:1', '--user', 'x'])).message).toMatch(/Unknown option '--user'/);
  });

  it('parses server lists and timeouts', () => {
    expect(parseAddressList(' host.lan:7400 , 10.0.0.2:1 ', '--servers')).toEqual(['host.lan:7400', '10.0.0.2:1']);
    expect(() => parseAddressList('host:0', '--servers')).toThrow(UsageError);
    expect([parseTimeout('15'), parseTimeout('2.5'), parseTimeout('15s'), parseTimeout('1500ms')]).toEqual([15000, 2500, 15000, 1500]);
    for (const bad of ['0', '-1', '1h', '', '3601']) expect(() => parseTimeout(bad)).toThrow(UsageError);
  });
});
