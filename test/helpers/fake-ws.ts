/**
 * A WebSocket stand-in for the endpoints' unit tests: what the endpoint sends is recorded (parsed), frames are fed in by
 * hand, and closing emits 'close' as ws does.
 */
import { EventEmitter } from 'node:events';

export class FakeWs extends EventEmitter {
  readyState = 1;
  bufferedAmount = 0;
  /** Bytes each send adds to bufferedAmount (a peer that never reads). */
  growth = 0;
  readonly sent: any[] = [];
  closed: { code: number; reason: string } | null = null;
  send(data: string): void {
    this.sent.push(JSON.parse(data));
    this.bufferedAmount += this.growth ? data.length + this.growth : 0;
  }
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = { code, reason };
    this.readyState = 3;
    this.emit('close', code, Buffer.from(reason ?? ''));
  }
  terminate(): void {
    this.close(1006, 'terminated');
  }
  frame(data: string | Buffer, binary = false): void {
    this.emit('message', Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8'), binary);
  }
}
