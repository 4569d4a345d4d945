/**
 * Password input for the chat command: all of standard input (--password-stdin, one trailing newline removed),
 * or a prompt on the terminal without echo. Without a terminal there is no way to prompt: a clear INVALID error.
 */
import { QuorumError } from '../protocol/index.js';

export async function readPasswordFromStdin(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (text.length === 0) throw new QuorumError('INVALID', '--password-stdin: standard input was empty');
  return text;
}

/** Prompts on the terminal (standard input must be a TTY); input is not echoed. Ctrl-C aborts with exit 130. */
export function promptPassword(prompt: string, stdin: NodeJS.ReadStream = process.stdin, out: NodeJS.WritableStream = process.stderr): Promise<string> {
  if (!stdin.isTTY || typeof stdin.setRawMode !== 'function') {
    return Promise.reject(
      new QuorumError('INVALID', 'no terminal to prompt for the password on (standard input is not a TTY); pass --password-stdin and pipe the password in'),
    );
  }
  return new Promise<string>((resolve, reject) => {
    let typed = '';
    const wasRaw = stdin.isRaw;
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(wasRaw);
      stdin.pause();
      out.write('\n');
    };
    const onData = (data: Buffer | string): void => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          resolve(typed);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(Object.assign(new QuorumError('INVALID', 'interrupted'), { exitCode: 130 }));
          return;
        }
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else if (ch >= ' ') typed += ch;
      }
    };
    out.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
