/**
 * Runs main/replica-process.ts in a Node child process (child_process.fork) instead of an Electron utilityProcess:
 * gives it the `process.parentPort` Electron would (messages arrive as `{ data }`, postMessage sends), backed by the
 * fork's IPC channel, then loads the sources, or the built bundle (dist/main/replica-process.js, what the app ships)
 * when its path is the first argument. Used by test/helpers/replica-child.ts only.
 */
export {};

type Listener = (e: { data: unknown }) => void;

let unsent = 0;
let exitAfterSend: number | null = null;
const realExit = process.exit.bind(process);

/**
 * Electron delivers what a utility process posted before it exits; process.send is asynchronous, so an exit right
 * after it would drop the message (the reason a replica stopped). Exit once every message has left.
 */
process.exit = ((code?: number) => {
  if (unsent === 0) return realExit(code);
  exitAfterSend = code ?? 0;
  return undefined as never;
}) as typeof process.exit;

(process as unknown as { parentPort: unknown }).parentPort = {
  on(event: 'message', listener: Listener) {
    if (event === 'message') process.on('message', (data) => listener({ data }));
    return this;
  },
  postMessage(message: unknown) {
    if (!process.send || !process.connected) return;
    unsent++;
    process.send(message as never, undefined, {}, () => {
      unsent--;
      if (unsent === 0 && exitAfterSend !== null) realExit(exitAfterSend);
    });
  },
};
// main lost: like a utility process whose parent died, stop at once (the replica's data is durable anyway).
process.on('disconnect', () => realExit(0));

await import(process.argv[2] ?? '../../main/replica-process.js');
