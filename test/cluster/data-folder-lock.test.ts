// Two replica processes on one data folder (an orphaned process beside its own restart, or an operator's second
// start): the second refuses in one line with exit status 4 and touches nothing; once the holder is gone (even
// killed with SIGKILL), the folder can be opened again.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicaProc, freePort, singleReplica } from '../helpers/cluster.js';
import { RawConn } from '../helpers/raw-client.js';
import { EXIT_STATUS } from '../../replica/node/exit-status.js';

describe('one replica process per data folder', () => {
  let first: ReplicaProc;
  let destroy: () => Promise<void>;

  beforeAll(async () => {
    ({ replica: first, destroy } = await singleReplica('quorum-lock-'));
  });
  afterAll(async () => {
    await destroy?.();
  });

  it('a second process on the folder refuses in one line (exit status 4); the first goes on serving', async () => {
    const a = await RawConn.open(first.address);
    await a.signup('alice');
    a.close();

    const second = new ReplicaProc({ ...first.options, id: 'r1', port: await freePort(), logFile: join(first.options.dataDir, '..', 'second.log') });
    second.start();
    const exited = await Promise.race([second.exited, second.waitHealthy(20_000).then(() => 'serving' as const, () => second.exited)]);
    await second.kill();
    expect(exited).toBe(EXIT_STATUS.DATA_FOLDER_IN_USE);
    const output = readFileSync(second.options.logFile, 'utf8');
    expect(output.trimEnd().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(`^DATA_FOLDER_IN_USE: cannot start replica r1: data folder ${first.options.dataDir} is in use by process ${first.proc!.pid} \\(replica r1, since [^)]+\\): one replica process per data folder; stop that one first$`),
      ),
    ]);

    const status = await first.status();
    expect(status.role).toBe('leader');
    const b = await RawConn.open(first.address);
    await b.login('alice');
    b.close();
  });

  it('after the holder is killed (SIGKILL), a new process opens the folder with its data', async () => {
    await first.kill();
    first.start();
    await first.waitHealthy();
    const a = await RawConn.open(first.address);
    await a.login('alice');
    a.close();
  });
});
