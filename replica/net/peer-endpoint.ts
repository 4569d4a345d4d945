/**
 * Inbound side of /peer: challenges every connection, and only after a valid HMAC proof, on a TLS connection whose
 * client certificate the cluster CA issued to the replica the proof names, accepts Raft messages and snapshot streams
 * from it. An unauthenticated connection can read nothing and change nothing.
 */
import { createHash, type X509Certificate } from 'node:crypto';
import { mkdirSync, openSync, writeSync, fsyncSync, closeSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Message, SnapshotMeta } from '../raft/types.js';
import { AuthFrame, PeerFrame, PEER_PROTOCOL } from '../protocol/peer.js';
import { LIMITS } from '../protocol/limits.js';
import { clientMac, macEqual, newNonce, serverMac } from './peer-auth.js';
import type { Transport } from './transport.js';

export interface IncomingSnapshot {
  path: string;
  meta: SnapshotMeta;
  msg: Message;
}

export interface PeerEndpointOptions {
  selfId: string;
  /** The current cluster secret; null: this replica accepts no peers. */
  secret: Buffer | null;
  /** Older secrets still accepted during a rotation (a proof by any of them is answered with the same one). */
  previousSecrets?: readonly Buffer[];
  /**
   * Checks the certificate a TLS peer presented (replica/security/replica-tls.ts: peerProblem); null: no TLS checks
   * (unit tests of the HMAC layer alone).
   */
  certificates?: { peerProblem(certificate: X509Certificate | undefined, id: string): string | null } | null;
  /** Refuse peers that connect in plain text (true unless --peer-links tls-or-plain during an upgrade from a version without TLS). */
  requireTls?: boolean;
  /** Folder for snapshot files being received. */
  incomingDir: string;
  log: Logger;
  /** Raft messages from an authenticated peer (already checked: from = that peer, to = this replica). */
  /**
   * Raft messages from an authenticated peer, with what it said about itself (when it did): its wall clock when it
   * sent them, and the state-machine version it supports.
   */
  onMessages: (from: string, msgs: Message[], sender?: { clock?: number; version?: number }) => void;
  /** A complete, hash-verified snapshot file and the 'snap' message that goes with it. */
  onSnapshot: (from: string, snap: IncomingSnapshot) => void;
  /** A peer proved it knows the secret; tells the owner the address it says it listens on. */
  onPeerSeen?: (id: string, address: string) => void;
}

const AUTH_TIMEOUT_MS = 5000;
/** Largest frame a connection may send before it has authenticated (an auth frame is a few hundred bytes). */
export const MAX_UNAUTHENTICATED_FRAME = 4096;
/** Connections still authenticating, per remote address (a peer needs one; reconnects are sequential). */
export const MAX_PENDING_PER_ADDRESS = 8;

/**
 * Caps the size of the frames the socket accepts (checked on the frame header, before anything is buffered). ws sets
 * one limit per server; peers need 8 MiB after authenticating, strangers a few hundred bytes before.
 */
function limitFrames(ws: WebSocket, bytes: number): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: number } })._receiver;
  if (receiver && typeof receiver._maxPayload === 'number') receiver._maxPayload = bytes;
}

interface Transfer {
  xfer: string;
  meta: SnapshotMeta;
  path: string;
  fd: number;
  size: number;
  written: number;
  hash: ReturnType<typeof createHash>;
}

export class PeerEndpoint {
  private readonly sockets = new Set<WebSocket>();
  /** The authenticated inbound connection of each peer (a peer has one outbound link; a newer one replaces it). */
  private readonly byPeer = new Map<string, WebSocket>();
  private readonly pendingByAddress = new Map<string, number>();
  constructor(private readonly o: PeerEndpointOptions) {
    // Files left by a transfer that a crash interrupted are never resumed: delete them.
    if (existsSync(o.incomingDir)) {
      for (const f of readdirSync(o.incomingDir)) if (f.endsWith('.part')) rmSync(join(o.incomingDir, f), { force: true });
    }
  }

  accept(ws: WebSocket, remote: string, transport: Transport = { encrypted: false }): void {
    // First of all: a socket error (a frame over the size limit, a reset) on a connection refused below must not go
    // unhandled, which would end the process. The connection is dropped at once: ws would otherwise keep reading (and
    // over TLS, decrypting) whatever the sender still sends until its closing handshake times out.
    ws.on('error', () => ws.terminate());
    limitFrames(ws, MAX_UNAUTHENTICATED_FRAME);
    if (!this.o.secret) {
      ws.close(4403, 'this replica has no cluster secret: it does not accept peers');
      return;
    }
    if (this.o.requireTls && !transport.encrypted) {
      this.o.log.warn({ remote }, 'peer connection refused: plain text (replicas talk over TLS)');
      ws.close(4426, 'replicas talk over TLS: upgrade the connecting replica, or start this one with --peer-links tls-or-plain while upgrading');
      return;
    }
    const secrets = [this.o.secret, ...(this.o.previousSecrets ?? [])];
    const pending = this.pendingByAddress.get(remote) ?? 0;
    if (pending >= MAX_PENDING_PER_ADDRESS) {
      // A flood: drop it at once rather than wait for a closing handshake while its data keeps arriving.
      ws.terminate();
      return;
    }
    this.pendingByAddress.set(remote, pending + 1);
    let counted = true;
    const uncount = () => {
      if (!counted) return;
      counted = false;
      const left = (this.pendingByAddress.get(remote) ?? 1) - 1;
      if (left > 0) this.pendingByAddress.set(remote, left);
      else this.pendingByAddress.delete(remote);
    };
    this.sockets.add(ws);
    const nonce = newNonce();
    let peer: string | null = null;
    let transfer: Transfer | null = null;
    const timer = setTimeout(() => {
      if (!peer) ws.close(4401, 'authentication timeout');
    }, AUTH_TIMEOUT_MS);
    ws.send(JSON.stringify({ t: 'challenge', protocol: PEER_PROTOCOL, id: this.o.selfId, nonce }));

    const abortTransfer = () => {
      if (transfer) {
        try {
          closeSync(transfer.fd);
        } catch {
          // already closed by a failed write: the file is removed next either way
        }
        rmSync(transfer.path, { force: true });
        transfer = null;
      }
    };

    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(4400, 'binary frames not accepted');
      if (!peer && (data as Buffer).length > MAX_UNAUTHENTICATED_FRAME) return ws.close(4401, 'frame too large before authentication');
      let raw: unknown;
      try {
        raw = JSON.parse(data.toString());
      } catch {
        return ws.close(4400, 'malformed frame');
      }
      if (!peer) {
        const auth = AuthFrame.safeParse(raw);
        const secret = auth.success ? secrets.find((s) => macEqual(auth.data.mac, clientMac(s, nonce, auth.data.id, this.o.selfId))) : undefined;
        if (!auth.success || !secret) {
          this.o.log.warn({ remote }, 'peer connection failed authentication');
          return ws.close(4401, 'authentication failed');
        }
        const certificateProblem = transport.encrypted && this.o.certificates ? this.o.certificates.peerProblem(transport.certificate, auth.data.id) : null;
        if (certificateProblem) {
          this.o.log.warn({ remote, peer: auth.data.id, problem: certificateProblem }, 'peer connection refused: wrong certificate');
          // A close reason is at most 123 bytes: the peer's log says what it presented, ours says why in full.
          return ws.close(4403, 'certificate refused: not this cluster\'s certificate for that replica id');
        }
        peer = auth.data.id;
        clearTimeout(timer);
        // The peer reconnected (e.g. its old connection went silent in a partition): drop the old one, which could
        // otherwise linger unnoticed for as long as TCP keeps it.
        const old = this.byPeer.get(peer);
        if (old && old !== ws) old.terminate();
        this.byPeer.set(peer, ws);
        uncount();
        limitFrames(ws, LIMITS.maxPeerFrameBytes);
        ws.send(JSON.stringify({ t: 'welcome', mac: serverMac(secret, auth.data.nonce, peer, this.o.selfId) }));
        this.o.onPeerSeen?.(peer, auth.data.address);
        return;
      }
      const parsed = PeerFrame.safeParse(raw);
      if (!parsed.success) {
        this.o.log.warn({ peer, issue: parsed.error.issues[0]?.message }, 'invalid peer frame');
        return ws.close(4400, 'invalid frame');
      }
      try {
        const f = parsed.data;
        switch (f.t) {
          case 'msgs': {
            const ok = f.ms.filter((m) => m.from === peer && m.to === this.o.selfId && m.type !== 'snap');
            if (ok.length) this.o.onMessages(peer, ok as Message[], { clock: f.clock, version: f.version });
            return;
          }
          case 'snapBegin': {
            abortTransfer();
            mkdirSync(this.o.incomingDir, { recursive: true });
            const path = join(this.o.incomingDir, `${peer}-${f.xfer.replace(/[^A-Za-z0-9-]/g, '')}.part`);
            transfer = { xfer: f.xfer, meta: f.meta as SnapshotMeta, path, fd: openSync(path, 'w'), size: f.size, written: 0, hash: createHash('sha256') };
            return;
          }
          case 'snapChunk': {
            if (!transfer || transfer.xfer !== f.xfer || f.offset !== transfer.written) return ws.close(4400, 'snapshot chunk out of order');
            const buf = Buffer.from(f.data, 'base64');
            if (transfer.written + buf.length > transfer.size) return ws.close(4400, 'snapshot larger than announced');
            writeSync(transfer.fd, buf);
            transfer.hash.update(buf);
            transfer.written += buf.length;
            return;
          }
          case 'snapEnd': {
            const t = transfer;
            if (!t || t.xfer !== f.xfer) return ws.close(4400, 'snapshot end without begin');
            transfer = null;
            const digest = t.hash.digest('hex');
            if (t.written !== t.size || digest !== f.sha256 || f.msg.type !== 'snap' || f.msg.from !== peer || f.msg.to !== this.o.selfId) {
              closeSync(t.fd);
              rmSync(t.path, { force: true });
              this.o.log.warn({ peer }, 'snapshot transfer rejected (size, hash or message mismatch)');
              return;
            }
            fsyncSync(t.fd);
            closeSync(t.fd);
            this.o.onSnapshot(peer, { path: t.path, meta: t.meta, msg: { ...(f.msg as Message), snapshot: t.meta } });
            return;
          }
        }
      } catch (err) {
        // A local failure (disk full, permissions) while receiving a snapshot: abort it, never crash the replica.
        this.o.log.error({ peer, err: (err as Error).message }, 'peer frame failed; closing the connection');
        abortTransfer();
        ws.close(1011, 'internal error');
      }
    });
    ws.on('close', () => {
      uncount();
      clearTimeout(timer);
      abortTransfer();
      this.sockets.delete(ws);
      if (peer && this.byPeer.get(peer) === ws) this.byPeer.delete(peer);
    });
  }

  /** Whether peer `id` has an authenticated connection to this replica (until that connection's close event). */
  hasInbound(id: string): boolean {
    return this.byPeer.has(id);
  }

  close(): void {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
  }
}
