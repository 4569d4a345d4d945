/**
 * One "desktop" as a process of its own: a TestDesktop (main's production modules hosting a real replica child) run
 * inside a network namespace (`ip netns exec NS node --import tsx desktop-agent.ts`), driven by the test over the
 * fork's IPC channel: start, invoke (the renderer's API through main's validation and handlers), status, the
 * clipboard, the replica's pid, quit (main's quit path; answers with what it did), and a chat client
 * (signup/login/send/read, the Cluster view's status request, a background writer) on this machine's replica; its
 * replica's /metrics (served to loopback only).
 * Options come as JSON in QUORUM_DESKTOP_AGENT. Used by test/helpers/remote-desktop.ts.
 */
import { join } from 'node:path';
import WebSocket from 'ws';
import { TestDesktop, type TestDesktopOptions } from './desktop.js';
import { conversationTexts } from './clients.js';
import { QuorumClient } from '../../replica/client/client.js';
import { clientUrl, trustFromCaFile, trustedWebSocket } from '../../replica/security/client-tls.js';

type Request = { id: number; op: string; args: unknown[] };

const options = JSON.parse(process.env.QUORUM_DESKTOP_AGENT ?? '{}') as TestDesktopOptions;
const desktop = new TestDesktop(options);
const clients = new Map<string, QuorumClient>();

/** A user writing one message after another (numbered) while the test does other things: what was acknowledged, what failed. */
interface Writer {
  acked: string[];
  failed: { text: string; error: string }[];
  stopping: boolean;
  done: Promise<void>;
}
let writer: Writer | null = null;

function startWriter(user: string, to: string, prefix: string, gapMs: number): Writer {
  const w: Writer = { acked: [], failed: [], stopping: false, done: Promise.resolve() };
  w.done = (async () => {
    for (let i = 0; !w.stopping; i++) {
      const text = `${prefix}-${i}`;
      try {
        await clients.get(user)!.send(to, text);
        w.acked.push(text);
      } catch (err) {
        w.failed.push({ text, error: String((err as Error)?.message ?? err) });
      }
      // A person's pace, not a load test: the machine is shared with the replicas under test.
      await new Promise((r) => setTimeout(r, gapMs));
    }
  })();
  return w;
}

async function run(op: string, args: unknown[]): Promise<unknown> {
  switch (op) {
    case 'start':
      desktop.start();
      return null;
    case 'invoke':
      return (desktop.invoke as (c: string, ...a: unknown[]) => Promise<unknown>)(args[0] as string, ...args.slice(1));
    case 'status':
      return desktop.status();
    case 'clipboard':
      return desktop.clipboard;
    case 'replicaPid':
      return desktop.child?.alive ? desktop.child.pid : null;
    case 'quit':
      await desktop.quit();
      return desktop.quitLog;
    case 'clusterStatus': {
      // What the Cluster view shows: the status of the replica the user's client is connected to (the leader).
      const [user] = args as [string];
      return clients.get(user)!.status();
    }
    case 'metrics': {
      const res = await fetch(`http://127.0.0.1:${options.port}/metrics`);
      if (!res.ok) throw new Error(`/metrics answered ${res.status}: ${await res.text()}`);
      return res.text();
    }
    case 'startWriter': {
      const [user, to, prefix, gapMs] = args as [string, string, string, number];
      if (writer) throw new Error('a writer is running already');
      writer = startWriter(user, to, prefix, gapMs);
      return null;
    }
    case 'writerProgress':
      return { acked: writer?.acked.length ?? 0, failed: writer?.failed.length ?? 0 };
    case 'stopWriter': {
      const w = writer;
      if (!w) throw new Error('no writer is running');
      w.stopping = true;
      await w.done;
      writer = null;
      return { acked: w.acked, failed: w.failed };
    }
    case 'login': {
      const [user, password, signup] = args as [string, string, boolean];
      // As the window does: this machine's replica at its LAN address over wss://, trusting the cluster's CA (the
      // replica serves other machines over TLS only, and a follower points the client at the leader's LAN address).
      // A solo install on loopback: plain ws:// to 127.0.0.1.
      const lan = desktop.status().team.exposure === 'lan';
      const trust = lan ? trustFromCaFile(join(desktop.settings.get().replica.dataDir, 'cluster-ca.pem')) : null;
      clients.get(user)?.close();
      const c = new QuorumClient({
        servers: [lan ? `${options.lanAddress}:${options.port}` : desktop.localAddress],
        WebSocket: (trust ? trustedWebSocket(trust) : WebSocket) as never,
        url: (address) => clientUrl(trust, address),
        giveUpAfterMs: 30_000,
        requestTimeoutMs: 5_000,
      });
      if (signup) await c.signup(user, password);
      await c.login(user, password);
      clients.set(user, c);
      return null;
    }
    case 'send': {
      const [user, to, text] = args as [string, string, string];
      await clients.get(user)!.send(to, text);
      return null;
    }
    case 'texts': {
      const [user, withUser] = args as [string, string];
      return conversationTexts(clients.get(user)!, withUser);
    }
    default:
      throw new Error(`unknown op ${op}`);
  }
}

process.on('message', (m: Request) => {
  run(m.op, m.args).then(
    (result) => process.send?.({ id: m.id, ok: true, result }),
    (err: unknown) => process.send?.({ id: m.id, ok: false, error: String((err as Error)?.message ?? err) }),
  );
});
// The test is gone: stop the replica child with us.
process.on('disconnect', () => {
  void desktop.destroy().finally(() => process.exit(0));
});
process.send?.({ id: 0, ok: true, result: 'ready' });
