/**
 * A vitest reporter for mutation runs only (vitest.mutate.config.ts): a test file that fails to load (its imports
 * throw, as a mutant of a module's top-level code can make them) is given one failed test carrying its load error.
 *
 * Why: @stryker-mutator/vitest-runner (9.6, and 10.0) builds a mutant's result from the tests it collected, and a
 * file that cannot load collects none, so such a mutant, which every test importing the module catches, is scored
 * Survived with 0 tests run (stryker-js#6150). With this reporter it is scored Killed. A file that loaded is left as
 * it is.
 */
import type { Reporter, TestModule } from 'vitest/node';

/** The runner's task of a test file (what Stryker's runner reads; TestModule keeps it, untyped, as `task`). */
interface FileTask {
  id: string;
  type: string;
  result?: { state?: string; errors?: unknown[] };
  tasks: FileTask[];
}

function hasTests(task: FileTask): boolean {
  return task.tasks.some((t) => t.type === 'test' || (t.type === 'suite' && hasTests(t)));
}

function unloadableFileFails(file: FileTask): void {
  if (file.result?.state !== 'fail' || hasTests(file)) return;
  const errors = file.result.errors ?? [{ message: 'the test file failed to load', name: 'Error' }];
  file.tasks.push({
    type: 'test',
    id: `${file.id}_load`,
    name: 'loads',
    mode: 'run',
    file,
    suite: file,
    meta: {},
    timeout: 0,
    annotations: [],
    artifacts: [],
    context: undefined as never,
    result: { state: 'fail', errors, duration: 0 },
  } as never);
}

export default class UnloadableFileFails implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    for (const module of modules) unloadableFileFails((module as unknown as { task: FileTask }).task);
  }
}
