/**
 * Command-line entry: `node dist/replica/cli.js replica|chat|status|cluster [ARGS]` (this file built by
 * scripts/replica-build.mjs; `npm run replica|chat|status|cluster` run it), or `tsx replica/cli.ts ...` from the sources.
 * Each command lives in replica/cli/<command>.ts and exports `main(argv): Promise<number>` (the exit code);
 * modules load on demand so `chat` never pays for starting the replica's dependencies.
 */
type CommandMain = (argv: string[]) => Promise<number>;

const USAGE = `usage: npm run --silent COMMAND -- [ARGS]   (node dist/replica/cli.js COMMAND [ARGS])
commands:
  replica   run a replica        (npm run replica -- --help)
  chat      chat from the shell  (npm run chat -- --help)
  status    cluster status       (npm run status -- --help)
  cluster   change the membership (npm run cluster -- --help)`;

async function load(command: string): Promise<{ main: CommandMain; exitWhenDone: boolean } | null> {
  switch (command) {
    case 'replica':
      // Runs until the replica stops; never force-exit under it.
      return { main: (await import('./cli/replica.js')).main, exitWhenDone: false };
    case 'chat':
      return { main: (await import('./cli/chat.js')).main, exitWhenDone: true };
    case 'status':
      return { main: (await import('./cli/status.js')).main, exitWhenDone: true };
    case 'cluster':
      return { main: (await import('./cli/cluster.js')).main, exitWhenDone: true };
    default:
      return null;
  }
}

async function run(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stderr.write(`${USAGE}\n`);
    process.exitCode = command === undefined ? 2 : 0;
    return;
  }
  const entry = await load(command);
  if (!entry) {
    process.stderr.write(`INVALID: unknown command "${command}"\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const code = await entry.main(rest);
  process.exitCode = code;
  // Short-lived commands must not linger on a half-closed socket or a pending timer.
  if (entry.exitWhenDone) process.exit(code);
}

run(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`INTERNAL: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
