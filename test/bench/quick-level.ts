/**
 * A developer's probe, not part of `npm run bench`: one Quorum cluster, a few closed-loop levels, printed as rows.
 * `npx tsx test/bench/quick-level.ts [--replicas 3] [--levels 1,64,256] [--seconds 4]`
 */
import { parseArgs } from 'node:util';
import { startQuorumWithLoad, quorumRaw } from './throughput.js';
import { scrapeMetrics, toRow } from './measure.js';
import { buildReplica } from '../../scripts/replica-build.mjs';

const { values } = parseArgs({ options: { replicas: { type: 'string', default: '3' }, levels: { type: 'string', default: '1,64,256' }, seconds: { type: 'string', default: '4' } } });
// The replicas run built (dist/replica/cli.js), rebuilt here when replica/ changed.
await buildReplica();
const q = await startQuorumWithLoad(Number(values.replicas));
try {
  for (const inFlight of values.levels.split(',').map(Number)) {
    const row = toRow([await quorumRaw(q, { warmupMs: 1000, measureMs: Number(values.seconds) * 1000 }, inFlight)]);
    console.log(JSON.stringify(row));
  }
  for (const r of q.cluster.replicas) {
    const v = await scrapeMetrics(r.address);
    const pn = v('quorum_storage_persist_seconds_count');
    const an = v('quorum_apply_seconds_count');
    console.log(`${r.id}: persist ${pn} batches, mean ${((v('quorum_storage_persist_seconds_sum') / pn) * 1000).toFixed(3)} ms; apply ${an} batches, mean ${((v('quorum_apply_seconds_sum') / an) * 1000).toFixed(3)} ms`);
  }
} finally {
  q.load.close();
  await q.cluster.destroy();
}
