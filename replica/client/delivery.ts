/**
 * Coalesced `delivered {upTo}` acknowledgements: a burst of pushed messages produces one request,
 * at most one is in flight, and a newer high-water mark is sent when it completes.
 */
import type { ClientLogger } from './types.js';
import { clientLog, type ClientLog } from './log.js';
import { errorText } from './emitter.js';

export class DeliveryAcker {
  private highest = 0;
  private acked = 0;
  private inFlight = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** Moved by reset(): an ack sent before it answers for the previous account's marks, not for these. */
  private epoch = 0;
  private readonly log: ClientLog;

  constructor(
    private readonly sendDelivered: (upTo: number) => Promise<unknown>,
    private readonly delayMs: number,
    log?: ClientLogger,
  ) {
    this.log = clientLog(log);
  }

  /** A message with this id was delivered to the app. */
  note(id: number): void {
    if (this.stopped) return;
    if (id > this.highest) this.highest = id;
    this.schedule();
  }

  /** Forget the high-water marks (logout or a different account). */
  reset(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.highest = 0;
    this.acked = 0;
    this.epoch++;
  }

  stop(): void {
    this.stopped = true;
    this.reset();
  }

  private schedule(): void {
    if (this.timer || this.inFlight || this.highest <= this.acked) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.delayMs);
  }

  private flush(): void {
    if (this.stopped || this.inFlight || this.highest <= this.acked) return;
    const upTo = this.highest;
    const epoch = this.epoch;
    const done = () => {
      if (epoch === this.epoch && upTo > this.acked) this.acked = upTo;
    };
    this.inFlight = true;
    this.sendDelivered(upTo)
      .then(done)
      .catch((err: unknown) => {
        // Not fatal: the messages stay undelivered on the server and a later ack covers them.
        this.log.debug({ upTo, err: errorText(err) }, 'delivered ack failed');
        done();
      })
      .finally(() => {
        this.inFlight = false;
        this.schedule();
      });
  }
}
