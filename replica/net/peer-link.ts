/**
 * Outbound link to one peer: connects to wss://address/peer (TLS: our replica certificate presented, the peer's checked
 * against the cluster CA and its replica id before anything is sent), authenticates with the cluster secret, then carries
 * Raft messages (and snapshot streams) to that peer. Never blocks: when the link is down or congested, Raft messages
 * are dropped (Raft retransmits) and the owner is told the peer is unreachable. When an established link closes and
 * cannot be re-established (the first reconnect fails, as when the peer's process died and its port refuses, or
 * LOST_GRACE_MS pass), the owner is told once (onLost): a follower then stops waiting out its election timeout for a
 * leader that is gone.
 */
import { createHash, type X509Certificate } from 'node:crypto';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { open } from 'node:fs/promises';
import WebSocket from 'ws';
import type { Logger } from 'pino';
import type { Message, SnapshotMeta } from '../raft/types.js';
import { ChallengeFrame, WelcomeFrame } from '../protocol/peer.js';
import { LIMITS } from '../protocol/limits.js';
import { clientMac, macEqual, newNonce, serverMac } from './peer-auth.js';
import { backoffDelay, type BackoffOptions } from '../util/backoff.js';

export interface PeerLinkOptions {
  selfId: string;
  selfAddress: string;
  peerId: string;
  peerAddress: string;
  /** The current cluster secret (proves us). */
  secret: Buffer;
  /** Older secrets still accepted from the peer during a rotation. */
  previousSecrets?: readonly Buffer[];
  /**
   * TLS of the link: our client certificate and the check of the peer's. null: plain ws:// (unit tests of the HMAC
   * layer alone).
   */
  tls?: {
    peerClientOptions(): ConnectionOptions;
    peerProblem(certificate: X509Certificate | undefined, id: string): string | null;
  } | null;
  /**
   * After a TLS attempt that the peer did not answer in TLS (a replica of a version without TLS), try plain text
   * (--peer-links tls-or-plain, for a rolling upgrade only).
   */
  allowPlain?: boolean;
  log: Logger;
  random: () => number;
  /** Called when messages to this peer had to be dropped (link down or congested). */
  onUnreachable: () => void;
  /**
   * Called once after an established link closed and was not re-established: the first reconnect attempt failed
   * (e.g. refused: the peer's process is gone), or LOST_GRACE_MS passed. A link that comes back in time says nothing.
   */
  onLost?: () => void;
  /** The state-machine version this replica supports, told to the peer with every batch (versions.ts). */
  version?: number;
}

const CONGESTED_BYTES = 32 * 1024 * 1024;
/**
 * Entry data per frame: a batch above it goes out in several frames. The peer closes a link whose frame exceeds
 * LIMITS.maxPeerFrameBytes (8 MiB); a follower far behind is sent appends of up to 1 MiB each until 8 MiB are in
 * flight (the core's maxInflightBytes), and as one frame they closed the link every time, so a catch-up got one append
 * through per reconnect. JSON can
 * escape data to several times its length (quotes: 2, control characters: 6), hence the margin; a single message is
 * never split (the core keeps each under 1 MiB).
 */
const FRAME_DATA_BYTES = LIMITS.maxPeerFrameBytes / 8;

/** `msgs` in order, cut into frames of at most FRAME_DATA_BYTES of entry data (an oversized message alone). */
export function framesOf(msgs: Message[], budget = FRAME_DATA_BYTES): Message[][] {
  const frames: Message[][] = [];
  let frame: Message[] = [];
  let bytes = 0;
  for (const m of msgs) {
    let size = 0;
    for (const e of m.entries ?? []) size += e.data.length;
    if (frame.length > 0 && bytes + size > budget) {
      frames.push(frame);
      frame = [];
      bytes = 0;
    }
    frame.push(m);
    bytes += size;
  }
  if (frame.length > 0) frames.push(frame);
  return frames;
}
const SNAPSHOT_CHUNK = 512 * 1024;
/**
 * Liveness of an open link: a ping every PING_MS; with neither a pong nor any progress in sending for DEAD_MS the
 * link is torn down and reconnected. Without it a link whose packets were dropped (a partition, a cable pulled) stays
 * "open" after the network heals until TCP's retransmission backoff expires, which grows to minutes.
 */
/** Reconnect delays: 25 ms doubling to 1 s; 10 ms is added so a jitter of 0 never makes a tight reconnect loop. */
const RECONNECT_BACKOFF: BackoffOptions = { initialMs: 25, maxMs: 1000 };
const PING_MS = 1000;
const DEAD_MS = 3500;
/** An established link that closed and is still not back after this long is reported lost (onLost). */
export const LOST_GRACE_MS = 100;

export class PeerLink {
  private ws: WebSocket | null = null;
  private open = false;
  private closed = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private nonce = '';
  private lastErrorLogged = 0;
  private pingTimer: NodeJS.Timeout | null = null;
  private upSince = 0;
  /** An established link closed and has not come back: onLost is due (when a reconnect fails, or at the grace). */
  private lostTimer: NodeJS.Timeout | null = null;
  /** The peer did not speak TLS on the last attempt and plain text is allowed: the next attempt is plain. */
  private plain = false;

  constructor(private readonly o: PeerLinkOptions) {
    this.connect();
  }

  get peerId(): string {
    return this.o.peerId;
  }
  get address(): string {
    return this.o.peerAddress;
  }
  get connected(): boolean {
    return this.open;
  }

  /**
   * The peer just authenticated a connection to us, so it is up: if this link is down and waiting out its backoff
   * (up to a second), connect now. A restarted peer would otherwise be unable to hear from us, votes included, for
   * that long.
   */
  peerSeen(): void {
    if (this.closed || this.ws || this.open) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.attempt = 0;
    this.connect();
  }

  /** Sends a batch of Raft messages; returns false (and drops them) when the link is not usable now. */
  send(msgs: Message[]): boolean {
    const ws = this.ws;
    if (!this.open || !ws || ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > CONGESTED_BYTES) {
      this.o.onUnreachable();
      return false;
    }
    for (const frame of framesOf(msgs)) {
      // A follower far behind is sent many large appends at once: what the socket cannot take now is dropped (Raft
      // resends it), and the leader is told to stop pipelining to this peer.
      if (ws.bufferedAmount > CONGESTED_BYTES) {
        this.o.onUnreachable();
        return false;
      }
      ws.send(JSON.stringify({ t: 'msgs', ms: frame, clock: Date.now(), version: this.o.version }));
    }
    return true;
  }

  /** Streams the snapshot file, then the 'snap' message. Rejects if the link drops meanwhile. */
  async sendSnapshot(path: string, meta: SnapshotMeta, msg: Message): Promise<void> {
    const ws = this.ws;
    if (!this.open || !ws) throw new Error(`no link to ${this.o.peerId}`);
    const xfer = `${meta.index}-${Date.now().toString(36)}`;
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      ws.send(JSON.stringify({ t: 'snapBegin', xfer, size, meta }));
      const hash = createHash('sha256');
      const buf = Buffer.alloc(SNAPSHOT_CHUNK);
      let offset = 0;
      while (offset < size) {
        const { bytesRead } = await fh.read(buf, 0, SNAPSHOT_CHUNK, offset);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        hash.update(chunk);
        await this.waitWritable(ws);
        ws.send(JSON.stringify({ t: 'snapChunk', xfer, offset, data: chunk.toString('base64') }));
        offset += bytesRead;
      }
      await this.waitWritable(ws);
      ws.send(JSON.stringify({ t: 'snapEnd', xfer, sha256: hash.digest('hex'), msg }));
    } finally {
      await fh.close();
    }
  }

  close(): void {
    this.closed = true;
    this.open = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.clearLost();
    this.stopPing();
    this.ws?.terminate();
    this.ws = null;
  }

  private async waitWritable(ws: WebSocket): Promise<void> {
    while (ws.bufferedAmount > 4 * SNAPSHOT_CHUNK) {
      if (ws !== this.ws || !this.open) throw new Error(`link to ${this.o.peerId} dropped during snapshot`);
      await new Promise((r) => setTimeout(r, 5));
    }
    if (ws !== this.ws || !this.open) throw new Error(`link to ${this.o.peerId} dropped during snapshot`);
  }

  private connect(): void {
    if (this.closed) return;
    let ws: WebSocket;
    const tls = this.o.tls && !this.plain ? this.o.tls : null;
    // One plain attempt per fallback: the next reconnect tries TLS first again (the peer may have been upgraded).
    this.plain = false;
    try {
      ws = new WebSocket(`${tls ? 'wss' : 'ws'}://${this.o.peerAddress}/peer`, {
        ...(tls ? tls.peerClientOptions() : {}),
        maxPayload: LIMITS.maxPeerFrameBytes,
        handshakeTimeout: 2000,
        perMessageDeflate: false,
        // Masking protects browsers' intermediaries from crafted payloads (RFC 6455 §10.3); between two replicas that
        // authenticate each other it only costs an XOR over every frame on both ends. A zero key skips it.
        generateMask: (mask: Buffer) => void mask.fill(0),
      });
    } catch (err) {
      // A malformed address must never take the replica down: say so and keep retrying (a config change fixes it).
      this.logOnce('cannot connect to peer: bad address', { peer: this.o.peerId, address: this.o.peerAddress, err: (err as Error).message });
      this.reportLost();
      this.scheduleReconnect(false);
      return;
    }
    this.ws = ws;
    this.nonce = newNonce();
    let authed = false;
    if (tls) {
      // The handshake is done and nothing but the upgrade request (no secret, no data) has been sent: check whom we
      // reached before the challenge is answered. Terminating here stops ws from opening the connection.
      ws.once('upgrade', (res) => {
        const problem = tls.peerProblem((res.socket as TLSSocket).getPeerX509Certificate?.(), this.o.peerId);
        if (problem) {
          this.logOnce('peer refused: wrong certificate', { peer: this.o.peerId, address: this.o.peerAddress, problem });
          ws.terminate();
        }
      });
    }
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(4400, 'binary frames not accepted');
      let frame: unknown;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        return ws.close(4400, 'malformed frame');
      }
      if (!authed) {
        const ch = ChallengeFrame.safeParse(frame);
        if (ch.success) {
          if (ch.data.id !== this.o.peerId) {
            this.logOnce('peer at this address has another id', { expected: this.o.peerId, got: ch.data.id });
            return ws.close(4409, 'unexpected replica id');
          }
          ws.send(
            JSON.stringify({
              t: 'auth',
              id: this.o.selfId,
              address: this.o.selfAddress,
              nonce: this.nonce,
              mac: clientMac(this.o.secret, ch.data.nonce, this.o.selfId, this.o.peerId),
            }),
          );
          return;
        }
        const w = WelcomeFrame.safeParse(frame);
        const secrets = [this.o.secret, ...(this.o.previousSecrets ?? [])];
        if (w.success && secrets.some((s) => macEqual(w.data.mac, serverMac(s, this.nonce, this.o.selfId, this.o.peerId)))) {
          authed = true;
          this.open = true;
          this.attempt = 0;
          this.upSince = Date.now();
          this.clearLost();
          this.o.log.info({ peer: this.o.peerId, address: this.o.peerAddress }, 'peer link up');
          this.startPing(ws);
          return;
        }
        this.logOnce('peer failed authentication (wrong cluster secret?)', { peer: this.o.peerId });
        return ws.close(4401, 'authentication failed');
      }
      // Nothing flows back on an outbound link after authentication.
    });
    ws.on('error', (err) => {
      // A replica of a version without TLS answers the handshake with HTTP: the TLS layer reports a protocol error.
      const notTls = tls !== null && /EPROTO|wrong version number|packet length too long|ECONNRESET/i.test(`${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`);
      if (notTls && this.o.allowPlain) this.plain = true;
      this.logOnce(notTls ? (this.o.allowPlain ? 'peer does not speak TLS; trying plain text (--peer-links tls-or-plain)' : 'peer does not speak TLS (an older version?); upgrade it, or allow plain links with --peer-links tls-or-plain while upgrading') : 'peer link error', { peer: this.o.peerId, err: err.message });
    });
    ws.on('close', () => {
      if (this.ws === ws) {
        this.stopPing();
        const wasOpen = this.open;
        this.open = false;
        this.ws = null;
        if (wasOpen) {
          this.o.log.info({ peer: this.o.peerId }, 'peer link down');
          this.lostTimer = setTimeout(() => this.reportLost(), LOST_GRACE_MS);
          // A link that was up for a while is retried at once: a refusal then tells us quickly that the peer is gone.
          this.scheduleReconnect(Date.now() - this.upSince >= PING_MS);
        } else {
          // A reconnect attempt failed while the link was down after having been up: the peer is gone for now.
          this.reportLost();
          this.scheduleReconnect(false);
        }
      }
    });
  }

  private startPing(ws: WebSocket): void {
    this.stopPing();
    let lastSign = Date.now();
    let lastBuffered = ws.bufferedAmount;
    ws.on('pong', () => (lastSign = Date.now()));
    this.pingTimer = setInterval(() => {
      if (this.ws !== ws) return this.stopPing();
      const now = Date.now();
      // Bytes leaving the send buffer also show the peer is taking data (a large snapshot can delay the pong).
      if (ws.bufferedAmount < lastBuffered) lastSign = now;
      lastBuffered = ws.bufferedAmount;
      if (now - lastSign > DEAD_MS) {
        this.logOnce('peer link silent; reconnecting', { peer: this.o.peerId, silentMs: now - lastSign });
        ws.terminate();
        return;
      }
      try {
        ws.ping();
      } catch {
        // closing: the close handler reconnects
      }
    }, PING_MS);
  }

  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private scheduleReconnect(soon: boolean): void {
    if (this.closed) return;
    // The first retry after a stable link dropped comes within 1-10 ms; later ones back off.
    const delay = soon ? 1 + Math.floor(this.o.random() * 9) : 10 + backoffDelay(this.attempt, RECONNECT_BACKOFF, this.o.random);
    this.attempt++;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private reportLost(): void {
    if (!this.lostTimer) return;
    this.clearLost();
    try {
      this.o.onLost?.();
    } catch (err) {
      this.o.log.error({ peer: this.o.peerId, err: (err as Error).message }, 'onLost handler failed');
    }
  }

  private clearLost(): void {
    if (this.lostTimer) clearTimeout(this.lostTimer);
    this.lostTimer = null;
  }

  private logOnce(msg: string, fields: Record<string, unknown>): void {
    const now = Date.now();
    if (now - this.lastErrorLogged > 5000) {
      this.lastErrorLogged = now;
      this.o.log.warn(fields, msg);
    }
  }
}

