// The desktop's replica utility process under plain Node, for the footprint scenario: gives the built
// dist/main/replica-process.js the process.parentPort Electron would (backed by the fork's IPC channel; as
// test/helpers/replica-child-entry.ts does for the sources), then loads it. Plain JavaScript: no TypeScript loader.
process.parentPort = {
  on(event, listener) {
    if (event === 'message') process.on('message', (data) => listener({ data }));
    return this;
  },
  postMessage(message) {
    if (process.send && process.connected) process.send(message);
  },
};
process.on('disconnect', () => process.exit(0));
await import(process.argv[2]);
