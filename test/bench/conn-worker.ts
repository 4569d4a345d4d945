/**
 * A load-generator child of the connections scenario (connections.ts forks several, so that holding thousands of
 * connections and parsing their pushes never makes the generator the bottleneck): it opens the connections it is
 * given (each from its own loopback source address, each resumed with its account's preloaded token), and records for
 * every pushed message that carries a send time (stampText) when it was sent and how long it took to arrive.
 *
 * IPC (child_process.fork): parent → {type:'open', address, conns:[{name, token, local}]} → {type:'opened', opened,
 * failed, firstError}; {type:'collect'} → {type:'samples', sentAt, latency} (and forgets them); {type:'close'}.
 */
import { LeanConn } from './lean-conn.js';
import { sentAtOf, wallMs } from './stats.js';

interface OpenMsg {
  type: 'open';
  address: string;
  conns: { name: string; token: string; local: string }[];
  concurrency?: number;
}
type ParentMsg = OpenMsg | { type: 'collect' } | { type: 'close' };

const conns: LeanConn[] = [];
let sentAt: number[] = [];
let latency: number[] = [];

function onPush(frame: any): void {
  if (frame.event !== 'message') return;
  const at = sentAtOf(frame.message?.text);
  if (at === null) return;
  sentAt.push(at);
  latency.push(wallMs() - at);
}

async function openAll(m: OpenMsg): Promise<{ opened: number; failed: number; firstError: string | null }> {
  let next = 0;
  let opened = 0;
  let failed = 0;
  let firstError: string | null = null;
  const worker = async () => {
    while (next < m.conns.length) {
      const c = m.conns[next++];
      try {
        const conn = await LeanConn.open(m.address, c.local);
        const r = await conn.request({ op: 'resume', token: c.token });
        if (!r.ok) throw new Error(`resume ${c.name}: ${r.error?.code} ${r.error?.message}`);
        conn.onPush = onPush;
        conns.push(conn);
        opened++;
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: m.concurrency ?? 64 }, worker));
  return { opened, failed, firstError };
}

process.on('message', (m: ParentMsg) => {
  if (m.type === 'open') {
    void openAll(m).then((r) => process.send!({ type: 'opened', ...r }));
  } else if (m.type === 'collect') {
    process.send!({ type: 'samples', sentAt, latency });
    sentAt = [];
    latency = [];
  } else if (m.type === 'close') {
    for (const c of conns) c.close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
