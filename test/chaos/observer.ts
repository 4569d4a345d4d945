/**
 * Leader observations: polls every replica's /healthz (role, term, leader) every few tens of milliseconds and
 * records each change. The checker counts the distinct leaders reported for each term (must be at most one), the
 * report draws who led when, and the nemesis asks it for the current leader.
 */
import type { History } from './history.js';
import type { ChaosReplica } from './replicas.js';

export interface Health {
  t: number;
  role: string;
  term: number;
  leader: string | null;
  appliedIndex: number;
}

export class LeaderObserver {
  readonly latest = new Map<string, Health>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  polls = 0;

  constructor(
    private readonly replicas: ChaosReplica[],
    private readonly history: History,
    private readonly everyMs = 100,
  ) {}

  start(): void {
    const loop = async () => {
      if (this.stopped) return;
      await this.pollOnce();
      if (!this.stopped) this.timer = setTimeout(loop, this.everyMs);
    };
    void loop();
  }

  async pollOnce(): Promise<void> {
    this.polls++;
    await Promise.all(
      this.replicas.map(async (r) => {
        const gone = () => {
          // Ends the replica's last reported role (for the timeline); names no leader, so the checker ignores it.
          const prev = this.latest.get(r.id);
          if (prev && prev.role !== 'unreachable') {
            const now: Health = { t: this.history.now(), role: 'unreachable', term: prev.term, leader: null, appliedIndex: prev.appliedIndex };
            this.latest.set(r.id, now);
            this.history.observe({ replica: r.id, role: now.role, term: now.term, leader: null });
          }
        };
        if (!r.running || r.paused) return gone();
        try {
          const res = await fetch(`http://${r.address}/healthz`, { signal: AbortSignal.timeout(Math.max(300, this.everyMs * 3)) });
          const h = (await res.json()) as { role?: string; term?: number; leader?: string | null; appliedIndex?: number };
          if (typeof h.term !== 'number' || typeof h.role !== 'string') return;
          const now: Health = { t: this.history.now(), role: h.role, term: h.term, leader: h.leader ?? null, appliedIndex: h.appliedIndex ?? 0 };
          const prev = this.latest.get(r.id);
          this.latest.set(r.id, now);
          if (!prev || prev.role !== now.role || prev.term !== now.term || prev.leader !== now.leader) {
            this.history.observe({ replica: r.id, role: now.role, term: now.term, leader: now.leader });
          }
        } catch {
          gone();
        }
      }),
    );
  }

  /** The replica that most recently said it leads, in the highest term seen within maxAgeMs. */
  leader(maxAgeMs = 1500): ChaosReplica | null {
    const now = this.history.now();
    let best: { r: ChaosReplica; term: number } | null = null;
    for (const r of this.replicas) {
      const h = this.latest.get(r.id);
      if (!h || h.role !== 'leader' || now - h.t > maxAgeMs || !r.running || r.paused) continue;
      if (!best || h.term > best.term) best = { r, term: h.term };
    }
    return best?.r ?? null;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
