// The layering of Quorum (docs/architecture.md, "Layout rules" in DEVELOPERS.md), checked on every `npm run lint`.
// Paths are relative to the repository root; `core` means a Node built-in module.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'isomorphic-no-node',
      comment: 'replica/protocol, replica/client and replica/util run in the renderer, the CLI and the replica: no Node built-ins',
      severity: 'error',
      from: { path: '^replica/(protocol|client|util)/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'isomorphic-only-zod',
      comment: 'replica/protocol and replica/client import only each other, replica/util and zod (a Node-only package would break the web client)',
      severity: 'error',
      from: { path: '^replica/(protocol|client)/' },
      to: { dependencyTypesNot: ['core'], pathNot: ['^replica/(protocol|client|util)/', '(^|/)node_modules/zod/'] },
    },
    {
      name: 'util-is-a-leaf',
      comment: 'replica/util holds small isomorphic helpers (backoff, missingCaseError) that anything may import: they import nothing',
      severity: 'error',
      from: { path: '^replica/util/' },
      to: { pathNot: '^replica/util/' },
    },
    {
      name: 'raft-is-pure',
      comment: 'replica/raft is the deterministic consensus core: it imports nothing but itself',
      severity: 'error',
      from: { path: '^replica/raft/' },
      to: { pathNot: '^replica/raft/' },
    },
    {
      name: 'replica-no-electron',
      comment: 'replica/ runs under plain Node (headless) as well as under the desktop app',
      severity: 'error',
      from: { path: '^replica/' },
      to: { path: '(^|/)node_modules/(electron|@electron)/' },
    },
    {
      name: 'renderer-no-node',
      comment: 'the renderer is a web page (also served to browsers): no Node built-ins',
      severity: 'error',
      from: { path: '^renderer/(src|dev/mock-client)' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'renderer-uses-isomorphic-replica',
      comment: 'the renderer reaches the replica only through the wire types, the client library and the isomorphic helpers',
      severity: 'error',
      from: { path: '^renderer/(src|dev/mock-client)' },
      to: { path: '^replica/', pathNot: '^replica/(protocol|client|util)/' },
    },
    {
      name: 'renderer-only-ipc-types-from-main',
      comment: 'the renderer takes from main/ only the types of the IPC contract (main/ipc-contract.ts), never code',
      severity: 'error',
      from: { path: '^renderer/' },
      to: { path: '^main/', pathNot: '^main/ipc-contract[.]ts$' },
    },
    {
      name: 'renderer-ipc-contract-types-only',
      comment: 'a value import of the IPC contract would pull zod schemas written for main into the web page',
      severity: 'error',
      from: { path: '^renderer/' },
      to: { path: '^main/ipc-contract[.]ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'ipc-contract-isomorphic',
      comment: 'main/ipc-contract.ts is read by main, the preload, the utility process and (types) the renderer: no Node or Electron',
      severity: 'error',
      from: { path: '^main/ipc-contract[.]ts$' },
      to: { pathNot: ['^main/ipc-contract[.]ts$', '^replica/(protocol|util)/', '(^|/)node_modules/zod/'] },
    },
    {
      name: 'renderer-no-electron',
      comment: 'the renderer talks to the main process through the preload bridge only',
      severity: 'error',
      from: { path: '^renderer/' },
      to: { path: '(^|/)node_modules/(electron|@electron)/' },
    },
    {
      name: 'nothing-imports-tests',
      comment: 'test/ is not shipped: product code and scripts never import it',
      severity: 'error',
      from: { pathNot: '^test/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-circular',
      comment:
        'an import cycle makes module start-up order matter and hides which module depends on which; a cycle of type-only imports ' +
        '(a store slice naming the whole store type) is erased at run time and allowed',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that resolves to nothing (a typo, a moved file)',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|release|test-results|bench-results|chaos-results)/' },
    // A git worktree shares node_modules through a symlink: keep paths as node_modules/… (not the link's target).
    preserveSymlinks: true,
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
    moduleSystems: ['es6', 'cjs'],
  },
};
