/**
 * replica/client/connection.ts (one WebSocket to one replica) and replica/client/status-probe.ts (a status request
 * over a connection of its own). The Connection tests drive a scripted socket — the WebSocketLike edge the client
 * is given, nothing of the client re-implemented — with fake timers, so every frame and timeout is exact; the status
 * probe runs against real WebSocket servers on 127.0.0.1 (the fake cluster, and a raw server for malformed answers).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { Connection, type ConnectionHandlers } from '../../replica/client/connection.js';
import { fetchStatus } from '../../replica/client/status-probe.js';
import type { WebSocketConstructor, WebSocketLike } from '../../replica/client/types.js';
import { PROTOCOL_VERSION, QuorumError } from '../../replica/protocol/index.js';
import { FakeCluster } from '../helpers/fake-replica.js';

type Handler = ((event: any) => void) | null;

/** The socket a Connection is given: records what it was asked to do; the test plays the server's side. */
class ScriptSocket implements WebSocketLike {
  static last: ScriptSocket | null = null;
  readyState = 0;
  onopen: Handler = null;
  onmessage: Handler = null;
  onclose: Handler = null;
  onerror: Handler = null;
  readonly sent: string[] = [];
  closeCalls = 0;
  throwOnSend = false;
  throwOnClose = false;
  constructor(readonly url: string) {
    ScriptSocket.last = this;
  }
  send(data: string): void {
    if (this.throwOnSend) throw new Error('socket is gone');
    this.sent.push(data);
  }
  close(): void {
    this.closeCalls++;
    if (this.throwOnClose) throw new Error('already closed');
  }
  opened(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  frame(data: unknown): void {
    this.onmessage?.({ data: typeof data === 'string' ? data : JSON.stringify(data) });
  }
  raw(data: unknown): void {
    this.onmessage?.({ data });
  }
}

const HELLO = { type: 'hello', protocol: PROTOCOL_VERSION, replica: { id: 'r1', address: '127.0.0.1:1' }, leader: null };
const PUSH = { type: 'push', event: 'message', message: { id: 1, from: 'ann', to: 'ben', text: 'hi', sentAt: 1, deliveredAt: null, readAt: null } };

interface Recorded {
  hellos: unknown[];
  frames: unknown[];
  closes: string[];
  warnings: string[];
  errors: string[];
  debugs: string[];
  warnObjects: object[];
}

function connection(): { conn: Connection; rec: Recorded; socket: () => ScriptSocket } {
  const rec: Recorded = { hellos: [], frames: [], closes: [], warnings: [], errors: [], debugs: [], warnObjects: [] };
  const handlers: ConnectionHandlers = {
    onHello: (_c, hello) => rec.hellos.push(hello),
    onFrame: (_c, frame) => rec.frames.push(frame),
    onClose: (_c, reason) => rec.closes.push(reason),
  };
  const log = {
    warn: (o: object, msg?: string) => {
      rec.warnings.push(msg ?? '');
      rec.warnObjects.push(o);
    },
    error: (_o: object, msg?: string) => rec.errors.push(msg ?? ''),
    debug: (o: object, msg?: string) => rec.debugs.push(`${msg ?? ''} ${JSON.stringify(o)}`),
  };
  const conn = new Connection(7, '127.0.0.1:1', handlers, log);
  return { conn, rec, socket: () => ScriptSocket.last as ScriptSocket };
}

/** A connection whose frame handler throws, opened on a ScriptSocket that has said hello. */
function throwingHandler(log?: ConstructorParameters<typeof Connection>[3]): { conn: Connection; socket: ScriptSocket } {
  const conn = new Connection(
    1,
    '127.0.0.1:1',
    {
      onHello: () => {},
      onFrame: () => {
        throw new Error('handler bug');
      },
      onClose: () => {},
    },
    log,
  );
  conn.open(ScriptSocket, 'ws://x/client', 1000);
  const socket = ScriptSocket.last as ScriptSocket;
  socket.opened();
  socket.frame(HELLO);
  return { conn, socket };
}

/** A WebSocket constructor that throws. */
const Unconstructible = class {
  constructor() {
    throw new Error('bad url');
  }
} as unknown as WebSocketConstructor;

afterEach(() => {
  vi.useRealTimers();
  ScriptSocket.last = null;
});

describe('Connection', () => {
  it('is ready only after an open socket said hello; frames before it are dropped, frames after it delivered', () => {
    vi.useFakeTimers();
    const { conn, rec, socket } = connection();
    conn.open(ScriptSocket, 'ws://127.0.0.1:1/client', 1000);
    expect(socket().url).toBe('ws://127.0.0.1:1/client');
    expect(conn.isOpen).toBe(false);
    expect(conn.send({ op: 'status' })).toBe(false);
    socket().opened();
    expect(conn.isOpen).toBe(true);
    expect(conn.isReady).toBe(false);
    socket().frame(PUSH);
    expect(rec.frames).toEqual([]);
    expect(rec.warnings).toEqual(['client ignored a frame before hello']);
    expect(rec.warnObjects).toEqual([{ address: '127.0.0.1:1', type: 'push' }]);
    socket().frame(HELLO);
    expect(conn.isReady).toBe(true);
    expect(conn.hello).toEqual(HELLO);
    expect(rec.hellos).toEqual([HELLO]);
    socket().frame(PUSH);
    expect(rec.frames).toEqual([PUSH]);
    expect(conn.send({ id: 1, op: 'status' })).toBe(true);
    expect(socket().sent).toEqual(['{"id":1,"op":"status"}']);
    // The hello arrived in time: its timer no longer fires.
    vi.advanceTimersByTime(5000);
    expect(rec.closes).toEqual([]);
    expect(conn.epoch).toBe(7);
  });

  it('gives up on a replica that says no hello within the connect timeout, once, and closes the socket', () => {
    vi.useFakeTimers();
    const { conn, rec, socket } = connection();
    conn.open(ScriptSocket, 'ws://x/client', 1000);
    socket().opened();
    vi.advanceTimersByTime(999);
    expect(rec.closes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(rec.closes).toEqual(['no hello from 127.0.0.1:1 within 1000 ms']);
    expect(socket().closeCalls).toBe(1);
    expect(conn.isOpen).toBe(false);
    // Nothing after the end reaches the handlers: the socket's handlers are detached, and a late frame is ignored.
    expect(socket().onmessage).toBeNull();
    expect(socket().onclose).toBeNull();
    expect(socket().onopen).toBeNull();
    expect(() => socket().onerror?.({ message: 'late' })).not.toThrow();
    conn.close('again');
    expect(rec.closes).toHaveLength(1);
  });

  it('reports a close before hello as "cannot connect" and after hello as "closed", with the server\'s reason', () => {
    const a = connection();
    a.conn.open(ScriptSocket, 'ws://x/client', 1000);
    a.socket().onclose?.({ reason: '' });
    expect(a.rec.closes).toEqual(['cannot connect to 127.0.0.1:1']);

    const b = connection();
    b.conn.open(ScriptSocket, 'ws://x/client', 1000);
    b.socket().opened();
    b.socket().frame(HELLO);
    const socketB = b.socket();
    socketB.onclose?.({ reason: 'replica stopping' });
    expect(b.rec.closes).toEqual(['connection to 127.0.0.1:1 closed: replica stopping']);
    socketB.onclose?.({ reason: 'twice' });
    expect(b.rec.closes).toHaveLength(1);

    const c = connection();
    c.conn.open(ScriptSocket, 'ws://x/client', 1000);
    c.socket().onclose?.({ reason: 'refused' });
    expect(c.rec.closes).toEqual(['cannot connect to 127.0.0.1:1: refused']);

    const d = connection();
    d.conn.open(ScriptSocket, 'ws://x/client', 1000);
    d.socket().onclose?.(undefined);
    expect(d.rec.closes).toEqual(['cannot connect to 127.0.0.1:1']);
  });

  it('drops frames that are not text, not JSON or not a server frame, and a second hello, and keeps serving', () => {
    const { conn, rec, socket } = connection();
    conn.open(ScriptSocket, 'ws://x/client', 1000);
    socket().opened();
    socket().frame(HELLO);
    socket().raw(new Uint8Array([1, 2, 3]));
    socket().raw('{not json');
    socket().frame({ type: 'push', event: 'no-such-event' });
    socket().frame({ ...HELLO, replica: { id: 'r9', address: '127.0.0.1:9' } });
    expect(rec.warnings).toEqual([
      'client ignored a non-text frame',
      'client ignored a frame that is not JSON',
      'client ignored a malformed frame',
      'client ignored a second hello',
    ]);
    expect(rec.warnObjects).toEqual([
      { address: '127.0.0.1:1' },
      { address: '127.0.0.1:1', bytes: 9 },
      { address: '127.0.0.1:1', issue: expect.any(String) },
      { address: '127.0.0.1:1' },
    ]);
    expect((rec.warnObjects[2] as { issue: string }).issue.length).toBeGreaterThan(0);
    expect(rec.errors).toEqual([]);
    expect(conn.hello).toEqual(HELLO);
    expect(rec.hellos).toHaveLength(1);
    expect(rec.frames).toEqual([]);
    expect(conn.isReady).toBe(true);
    socket().frame(PUSH);
    expect(rec.frames).toEqual([PUSH]);
  });

  it('closes on a hello of another protocol version, saying both', () => {
    const { conn, rec, socket } = connection();
    conn.open(ScriptSocket, 'ws://x/client', 1000);
    socket().opened();
    socket().frame({ ...HELLO, protocol: PROTOCOL_VERSION + 1 });
    expect(rec.closes).toEqual([`127.0.0.1:1 speaks protocol ${PROTOCOL_VERSION + 1}, this client ${PROTOCOL_VERSION}`]);
    expect(rec.hellos).toEqual([]);
    expect(conn.hello).toBeNull();
    expect(socket().closeCalls).toBe(1);
  });

  it('keeps a throwing frame handler inside (logged), and a failed send is false, not a throw', () => {
    const rec: string[] = [];
    const { conn, socket } = throwingHandler({
      error: (o, msg) => rec.push(`${msg} ${JSON.stringify(o)}`),
      warn: (o, msg) => rec.push(`${msg} ${JSON.stringify(o)}`),
    });
    expect(() => socket.frame(PUSH)).not.toThrow();
    expect(rec).toEqual(['client failed to handle a frame {"address":"127.0.0.1:1","err":"handler bug"}']);
    socket.throwOnSend = true;
    expect(conn.send({ id: 1 })).toBe(false);
    expect(rec[1]).toBe('client send failed {"address":"127.0.0.1:1","err":"socket is gone"}');
    conn.close('done');
    expect(conn.send({ id: 2 })).toBe(false);
  });

  it('logs socket errors at debug with their message, and survives a socket whose close throws', () => {
    const { conn, rec, socket } = connection();
    conn.open(ScriptSocket, 'ws://x/client', 1000);
    socket().onerror?.({ message: 'ECONNREFUSED' });
    socket().onerror?.(null);
    expect(rec.debugs).toEqual([
      'client socket error {"address":"127.0.0.1:1","err":"ECONNREFUSED"}',
      'client socket error {"address":"127.0.0.1:1","err":"error"}',
    ]);
    socket().throwOnClose = true;
    expect(() => conn.close('bye')).not.toThrow();
    expect(rec.closes).toEqual(['bye']);
  });

  it('reports a socket that cannot even be constructed once, after open() returned (never from inside it)', async () => {
    const { conn, rec } = connection();
    conn.open(Unconstructible, 'ws://[bad/client', 1000);
    expect(rec.closes).toEqual([]);
    await Promise.resolve();
    expect(rec.closes).toEqual(['cannot open ws://[bad/client: bad url']);
    expect(conn.isOpen).toBe(false);
  });
});

describe('Connection without a full logger', () => {
  it('drops bad frames quietly with a logger that only reports errors, or with none (no "failed to handle" from its own logging)', () => {
    for (const log of [{ error: vi.fn() }, undefined]) {
      const frames: unknown[] = [];
      const conn = new Connection(1, '127.0.0.1:1', { onHello: () => {}, onFrame: (_c, f) => frames.push(f), onClose: () => {} }, log);
      conn.open(ScriptSocket, 'ws://x/client', 1000);
      const socket = ScriptSocket.last as ScriptSocket;
      socket.opened();
      socket.frame(PUSH);
      socket.frame(HELLO);
      socket.raw(new Uint8Array([1]));
      socket.raw('{not json');
      socket.frame({ type: 'push', event: 'no-such-event' });
      socket.frame(HELLO);
      socket.onerror?.({ message: 'x' });
      socket.throwOnSend = true;
      expect(conn.send({ id: 1 })).toBe(false);
      socket.frame(PUSH);
      expect(frames).toEqual([PUSH]);
      if (log) expect(log.error).not.toHaveBeenCalled();
      conn.close('done');
    }
  });

  it('keeps a throwing frame handler inside with a logger that has no error method, or with none', () => {
    for (const log of [{ warn: vi.fn() }, undefined]) {
      const { conn, socket } = throwingHandler(log);
      expect(() => socket.frame(PUSH)).not.toThrow();
      conn.close('done');
    }
  });

  it('is not open before open() and after a socket that could not be made', async () => {
    const closes: string[] = [];
    const conn = new Connection(1, '127.0.0.1:1', { onHello: () => {}, onFrame: () => {}, onClose: (_c, r) => closes.push(r) });
    expect(conn.isOpen).toBe(false);
    expect(conn.isReady).toBe(false);
    expect(conn.send({ id: 1 })).toBe(false);
    conn.open(Unconstructible, 'ws://x/client', 1000);
    expect(conn.isOpen).toBe(false);
    await Promise.resolve();
    expect(closes).toEqual(['cannot open ws://x/client: bad url']);
  });

  it('leaves no timer behind when closed before its hello, and ignores a message the socket dispatches after the close', () => {
    vi.useFakeTimers();
    const { conn, rec, socket } = connection();
    conn.open(ScriptSocket, 'ws://x/client', 1000);
    const s = socket();
    s.opened();
    const dispatch = s.onmessage as (event: { data: string }) => void;
    expect(vi.getTimerCount()).toBe(1);
    conn.close('closed by the client');
    expect(vi.getTimerCount()).toBe(0);
    // A socket implementation may still deliver a frame it had queued before the close.
    dispatch({ data: JSON.stringify(HELLO) });
    dispatch({ data: JSON.stringify(PUSH) });
    expect(rec.hellos).toEqual([]);
    expect(rec.frames).toEqual([]);
    expect(rec.warnings).toEqual([]);
    expect(rec.closes).toEqual(['closed by the client']);
  });
});

describe('fetchStatus over a scripted socket', () => {
  const STATUS = {
    id: 'r1',
    address: '127.0.0.1:1',
    role: 'leader',
    term: 2,
    leader: { id: 'r1', address: '127.0.0.1:1' },
    commitIndex: 5,
    appliedIndex: 5,
    lastIndex: 5,
    voter: true,
    members: [{ id: 'r1', address: '127.0.0.1:1', voter: true }],
    quorum: true,
  };
  const options = { WebSocket: ScriptSocket, url: 'ws://x/client', connectTimeoutMs: 1000, requestTimeoutMs: 500 };

  it('leaves no timer running once answered, and the answer closes its connection', async () => {
    vi.useFakeTimers();
    const result = fetchStatus('127.0.0.1:1', options);
    const socket = ScriptSocket.last as ScriptSocket;
    socket.opened();
    socket.frame(HELLO);
    expect(socket.sent).toEqual(['{"id":1,"op":"status"}']);
    socket.frame({ type: 'response', id: 1, ok: true, result: STATUS });
    await expect(result).resolves.toMatchObject({ id: 'r1', role: 'leader', commitIndex: 5 });
    expect(socket.closeCalls).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects as UNAVAILABLE at once when the request cannot be sent, instead of waiting for a close that may never come', async () => {
    vi.useFakeTimers();
    const result = fetchStatus('127.0.0.1:1', options);
    const socket = ScriptSocket.last as ScriptSocket;
    socket.opened();
    socket.throwOnSend = true;
    socket.frame(HELLO);
    await expect(result).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'cannot send the status request to 127.0.0.1:1' });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('fetchStatus', () => {
  const clusters: FakeCluster[] = [];
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(clusters.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });
  const options = (address: string, over: Partial<Parameters<typeof fetchStatus>[1]> = {}) => ({
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    url: `ws://${address}/client`,
    connectTimeoutMs: 2000,
    requestTimeoutMs: 2000,
    ...over,
  });

  it('asks one replica for its status over its own connection and closes it', async () => {
    const cluster = await FakeCluster.start(2);
    clusters.push(cluster);
    const r2 = cluster.replica('r2');
    const status = await fetchStatus(r2.address, options(r2.address));
    expect(status).toMatchObject({ id: 'r2', role: 'follower', leader: { id: 'r1' }, quorum: true });
    expect(r2.frames.map((f) => [f.id, f.op])).toEqual([[1, 'status']]);
    expect(cluster.replica('r1').frames).toEqual([]);
    await vi.waitFor(() => expect(r2.conns.size).toBe(0));
  });

  it("rejects with the replica's own error, leader hint included", async () => {
    const cluster = await FakeCluster.start(1);
    clusters.push(cluster);
    const r1 = cluster.replica('r1');
    r1.hook = () => ({ error: { code: 'NOT_LEADER', message: 'ask r2', leader: { id: 'r2', address: '127.0.0.1:2' } } });
    const err = await fetchStatus(r1.address, options(r1.address)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuorumError);
    expect(err).toMatchObject({ code: 'NOT_LEADER', message: 'ask r2', leader: { id: 'r2', address: '127.0.0.1:2' } });
  });

  it('is UNAVAILABLE, saying why, when the replica does not answer, says no hello, or is down', async () => {
    const cluster = await FakeCluster.start(3);
    clusters.push(cluster);
    const [r1, r2, r3] = cluster.replicas;
    r1.hook = () => ({ drop: true });
    const silentAnswer = await fetchStatus(r1.address, options(r1.address, { requestTimeoutMs: 100 })).catch((e: unknown) => e);
    expect(silentAnswer).toMatchObject({ code: 'UNAVAILABLE', message: `no status from ${r1.address} within 100 ms` });
    r2.silent = true;
    const noHello = await fetchStatus(r2.address, options(r2.address, { connectTimeoutMs: 100 })).catch((e: unknown) => e);
    expect(noHello).toMatchObject({ code: 'UNAVAILABLE', message: `no hello from ${r2.address} within 100 ms` });
    await r3.down();
    const down = await fetchStatus(r3.address, options(r3.address)).catch((e: unknown) => e);
    expect(down).toMatchObject({ code: 'UNAVAILABLE' });
    expect((down as Error).message).toMatch(new RegExp(`^cannot connect to ${r3.address}`));
  });

  it('ignores frames that are not the answer to its request, and refuses a malformed status as INTERNAL', async () => {
    const http = createServer();
    servers.push(http);
    const wss = new WebSocketServer({ server: http, path: '/client' });
    const answers: unknown[][] = [];
    wss.on('connection', (ws) => {
      ws.send(JSON.stringify({ ...HELLO }));
      ws.on('message', () => {
        for (const frame of answers.shift() ?? []) ws.send(JSON.stringify(frame));
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(http.address() as AddressInfo).port}`;
    // Another id's answer and a push come first; then the answer, whose result is not a status.
    answers.push([{ type: 'response', id: 2, ok: false, error: { code: 'NOT_LEADER', message: 'not this one' } }, PUSH, { type: 'response', id: 1, ok: true, result: { id: 'r1' } }]);
    const malformed = await fetchStatus(address, options(address, { requestTimeoutMs: 1000 })).catch((e: unknown) => e);
    expect(malformed).toMatchObject({ code: 'INTERNAL' });
    expect((malformed as Error).message).toMatch(/^malformed status result: /);
    wss.close();
  });
});
