/**
 * One WebSocket to one replica: opens it, waits for the hello frame (with a timeout), validates every
 * frame against ServerFrameSchema, and reports the close exactly once. Malformed frames are logged and dropped.
 */
import { ServerFrameSchema, PROTOCOL_VERSION } from '../protocol/index.js';
import type { HelloFrame, ServerFrame } from '../protocol/index.js';
import type { ClientLogger, WebSocketConstructor, WebSocketLike } from './types.js';
import { clientLog, type ClientLog } from './log.js';
import { errorText } from './emitter.js';

const OPEN = 1;

export interface ConnectionHandlers {
  onHello(conn: Connection, hello: HelloFrame): void;
  onFrame(conn: Connection, frame: Exclude<ServerFrame, HelloFrame>): void;
  /** Called once, whether the socket never opened, failed or closed; `reason` says why. */
  onClose(conn: Connection, reason: string): void;
}

export class Connection {
  private socket: WebSocketLike | null = null;
  private helloTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  hello: HelloFrame | null = null;
  /** The close code the replica ended the connection with (CLOSE_CODES), once it has; null otherwise. */
  closeCode: number | null = null;
  private readonly log: ClientLog;
  /** Something arrived since takeHeard() was last called (liveness.ts). */
  private heard = false;

  constructor(
    readonly epoch: number,
    readonly address: string,
    private readonly handlers: ConnectionHandlers,
    log?: ClientLogger,
  ) {
    this.log = clientLog(log);
  }

  open(WebSocketCtor: WebSocketConstructor, url: string, connectTimeoutMs: number): void {
    try {
      this.socket = new WebSocketCtor(url);
    } catch (err) {
      // Defer so the caller never sees onClose re-entrantly from inside open().
      queueMicrotask(() => this.finish(`cannot open ${url}: ${errorText(err)}`));
      return;
    }
    const socket = this.socket;
    this.helloTimer = setTimeout(() => this.finish(`no hello from ${this.address} within ${connectTimeoutMs} ms`), connectTimeoutMs);
    socket.onmessage = (event) => {
      this.heard = true;
      // Never let a bad frame, a schema bug or a handler bug escape into the socket's event dispatch.
      try {
        this.receive(event.data);
      } catch (err) {
        this.log.error({ address: this.address, err: errorText(err) }, 'client failed to handle a frame');
      }
    };
    socket.onerror = (event) => {
      const message = (event as { message?: unknown } | null)?.message;
      this.log.debug({ address: this.address, err: typeof message === 'string' ? message : 'error' }, 'client socket error');
    };
    socket.onclose = (event) => {
      this.closeCode = typeof event?.code === 'number' ? event.code : null;
      const detail = event?.reason ? `: ${event.reason}` : '';
      this.finish(this.hello ? `connection to ${this.address} closed${detail}` : `cannot connect to ${this.address}${detail}`);
    };
  }

  get isOpen(): boolean {
    return !this.closed && this.socket !== null && this.socket.readyState === OPEN;
  }

  get isReady(): boolean {
    return this.isOpen && this.hello !== null;
  }

  /** Sends one frame; false when the socket is not open (the caller keeps the request pending). */
  send(frame: object): boolean {
    if (!this.isOpen || !this.socket) return false;
    try {
      this.socket.send(JSON.stringify(frame));
      return true;
    } catch (err) {
      this.log.warn({ address: this.address, err: errorText(err) }, 'client send failed');
      return false;
    }
  }

  /** Whether anything arrived from the replica since the last call. */
  takeHeard(): boolean {
    const heard = this.heard;
    this.heard = false;
    return heard;
  }

  /** Closes the socket and reports `reason` through onClose (once). */
  close(reason: string): void {
    this.finish(reason);
  }

  private receive(data: unknown): void {
    if (this.closed) return;
    if (typeof data !== 'string') {
      this.log.warn({ address: this.address }, 'client ignored a non-text frame');
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      this.log.warn({ address: this.address, bytes: data.length }, 'client ignored a frame that is not JSON');
      return;
    }
    const parsed = ServerFrameSchema.safeParse(json);
    if (!parsed.success) {
      this.log.warn({ address: this.address, issue: parsed.error.issues[0]?.message }, 'client ignored a malformed frame');
      return;
    }
    const frame = parsed.data as ServerFrame;
    if (frame.type === 'hello') {
      if (this.hello) {
        this.log.warn({ address: this.address }, 'client ignored a second hello');
        return;
      }
      if (frame.protocol !== PROTOCOL_VERSION) {
        this.finish(`${this.address} speaks protocol ${frame.protocol}, this client ${PROTOCOL_VERSION}`);
        return;
      }
      this.hello = frame;
      if (this.helloTimer) clearTimeout(this.helloTimer);
      this.helloTimer = null;
      this.handlers.onHello(this, frame);
      return;
    }
    if (!this.hello) {
      this.log.warn({ address: this.address, type: frame.type }, 'client ignored a frame before hello');
      return;
    }
    this.handlers.onFrame(this, frame);
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    const socket = this.socket;
    if (socket) {
      socket.onmessage = null;
      socket.onopen = null;
      socket.onclose = null;
      // Keep an error listener: some implementations emit 'error' while closing a connecting socket.
      socket.onerror = () => {};
      try {
        socket.close();
      } catch {
        // already closed or never opened
      }
    }
    this.handlers.onClose(this, reason);
  }
}
