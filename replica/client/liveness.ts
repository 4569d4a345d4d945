/**
 * Notices a replica that went silent without closing the connection: its host frozen, asleep, unplugged or cut off by a
 * partition. No FIN or RST arrives then, so the socket stays open and nothing else says the replica is gone: requests
 * would wait for their whole timeout, and a connection with nothing waiting would never hear another push.
 *
 * Every tick the watch asks whether anything arrived since the last one. Silent for a tick while requests wait on the
 * connection (or for `idleTicks` ticks with nothing waiting), it asks the replica something that any live replica
 * answers at once (`probe`: a status request); still silent at the next tick, the replica is `dead` to this client,
 * which leaves it for another. A replica that is only slow to commit answers the probe and is kept.
 */
export interface LivenessOptions {
  tickMs: number;
  /** Silent ticks before a probe when nothing waits on the connection. */
  idleTicks: number;
  /** Whether a frame arrived since the last call (and forget it). */
  heard(): boolean;
  /** Whether requests wait for an answer on the connection. */
  waiting(): boolean;
  probe(): void;
  /** Called once, after which the watch has stopped; `silentMs` is how long nothing arrived (in whole ticks). */
  dead(silentMs: number): void;
}

export class LivenessWatch {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private silentTicks = 0;
  private probing = false;

  constructor(private readonly o: LivenessOptions) {}

  start(): void {
    this.stop();
    this.silentTicks = 0;
    this.probing = false;
    this.o.heard();
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    this.timer = setTimeout(() => this.tick(), this.o.tickMs);
  }

  private tick(): void {
    this.timer = null;
    if (this.o.heard()) {
      this.silentTicks = 0;
      this.probing = false;
    } else {
      this.silentTicks += 1;
      if (this.probing) {
        this.o.dead(this.silentTicks * this.o.tickMs);
        return;
      }
      if (this.silentTicks >= (this.o.waiting() ? 1 : this.o.idleTicks)) {
        this.probing = true;
        this.o.probe();
      }
    }
    this.schedule();
  }
}
