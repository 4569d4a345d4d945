/**
 * Replicas compare their state (etcd's corruption check): every replica hashes its applied state at the same log
 * indices (the multiples of `--state-check-every`, where the driver splits its apply batches), tells its peers the hash
 * it got ('stateHash' peer messages), and compares what peers report with its own hash at the same index. Every
 * replica applies the same entries in the same order, so the hashes must be equal; a difference means a replica's
 * state was damaged or diverged (a disk that altered data, a bug), which Raft's own checks cannot see once an entry is
 * applied.
 *
 * A replica whose hash differs from the one a majority of the configuration's members reported at that index is
 * named diverged (by every replica that knows the hashes, the diverged one included). When every member has reported
 * and no majority agrees, the mismatch is still reported, naming both; until then status shows it (`agrees: false`). This module only keeps
 * and compares; the driver hashes and sends, the replica logs, counts and shows (status `stateCheck`).
 *
 * Hashes travel as best-effort peer messages: one sent while a link is down or still connecting (a peer just
 * restarted) is dropped, and Raft does not resend it. Without more, a replica whose state changed on disk while it was
 * down could go unnamed until the next checkpoint, which in an idle cluster may never come. So a replica resends its
 * latest hash to each member that has not reported one at that index or a later one (resendDue, backing off), and a
 * member that receives a hash it already holds (a resend: the sender lacks its own) answers with its own hash at that
 * index (receivePeer), at most once per RESEND_FIRST_MS to that member: an answer that crosses a resend is itself a hash
 * the other side already holds, and answering every such one would bounce between the two for as long as both run.
 */

/** A state of up to this many rows is hashed at every checkpoint, whatever `--state-check-every` (milliseconds). */
const SMALL_STATE_ROWS = 10_000;

/**
 * Whether the state check's checkpoint at `index` (a multiple of `every`) is hashed, when a hash would read about
 * `rows` rows. A hash reads the whole state (a million messages: seconds of CPU), so the checkpoints of a large state
 * thin out: only every `stride`-th is hashed, the stride being the smallest power of two no less than rows / every.
 * That keeps the rows hashed to at most about one per applied entry (a few µs of CPU per write) at any size, where
 * hashing at every checkpoint would, at a million messages, hash without pause and halve the write rate. `rows` is the
 * same on every replica at the same index, so every replica picks the same checkpoints; replicas that pick others
 * (an older release hashes at every one) still compare at those they share, and powers of two nest.
 */
export function stateCheckDue(index: number, every: number, rows: number): boolean {
  if (every <= 0 || index % every !== 0) return false;
  let stride = 1;
  if (rows > SMALL_STATE_ROWS) while (stride * every < rows) stride *= 2;
  return (index / every) % stride === 0;
}

/** What one comparison found. */
export interface StateCheckVerdict {
  index: number;
  /** The replica whose hash differs: from this replica's hash, or (when a majority is known) from the majority's. */
  replica: string;
  hash: string;
  /** The hash this replica holds at the index. */
  ownHash: string;
  /** The hash a majority of the members reported at the index, when one did. */
  majorityHash: string | null;
  /** True when `replica` differs from a majority of the members (it is the one to resync). */
  diverged: boolean;
  /** The whole line to log (names the replica). */
  line: string;
}

/** One member's latest compared checkpoint, as this replica sees it. */
export interface MemberCheck {
  index: number;
  agrees: boolean;
}

/** Checkpoints kept per replica (own and each peer's): enough for peers a few checkpoints behind or ahead. */
const KEEP = 8;
/** The first resend of a hash a member has not answered comes this long after it is found due; each later one waits twice as long. */
const RESEND_FIRST_MS = 2_000;
/** Resends of one hash to one member (2 + 4 + … + 64 s: about two minutes); past them that checkpoint goes uncompared with it. */
const RESENDS = 6;

/** A hash to send to one member. */
export interface HashToSend {
  to: string;
  index: number;
  hash: string;
}

export class StateCheck {
  /** index → hash, own and by peer id (own under this.id). */
  private readonly hashes = new Map<string, Map<number, string>>();
  /** (replica, index) pairs already reported, so each mismatch is logged once. */
  private readonly reported = new Set<string>();
  /** Replicas found diverged at their latest compared index (cleared when a later checkpoint agrees). */
  private readonly divergedAt = new Map<string, number>();
  private readonly latest = new Map<string, MemberCheck>();
  private ownLatest: number | null = null;
  /** Per member: the own index being resent to it, how many resends went, and when the next is due. */
  private readonly resends = new Map<string, { index: number; sent: number; dueAt: number }>();
  /** Per member: the index this replica last answered a repeated hash at, and when. */
  private readonly answered = new Map<string, { index: number; at: number }>();
  /** Mismatches reported so far. */
  mismatches = 0;

  constructor(
    readonly id: string,
    /** The members of the configuration now (voters and learners, this replica included). */
    private readonly members: () => string[],
  ) {}

  /** The newest index this replica hashed (null: none yet). */
  get lastIndex(): number | null {
    return this.ownLatest;
  }

  /** Replicas known to differ from a majority, in id order. */
  get diverged(): string[] {
    return [...this.divergedAt.keys()].sort();
  }

  /** The latest compared checkpoint of each member (this replica's own row: whether it agrees with the majority). */
  member(id: string): MemberCheck | undefined {
    return this.latest.get(id);
  }

  /** This replica hashed its state at `index`: compares with what peers reported for it. */
  recordOwn(index: number, hash: string): StateCheckVerdict[] {
    this.ownLatest = Math.max(this.ownLatest ?? 0, index);
    this.put(this.id, index, hash);
    return this.compare(index);
  }

  /** A peer reported its hash at `index`. */
  recordPeer(replica: string, index: number, hash: string): StateCheckVerdict[] {
    if (replica === this.id) return [];
    this.put(replica, index, hash);
    return this.compare(index);
  }

  /**
   * A peer reported its hash at `index` (`now`: milliseconds on any monotonic clock): compares, and says what to answer.
   * A hash already held is a resend (the peer lacks this replica's hash at that index): it is answered with this
   * replica's own, when it holds one, at most once per RESEND_FIRST_MS to that peer.
   */
  receivePeer(replica: string, index: number, hash: string, now: number): { verdicts: StateCheckVerdict[]; answer: HashToSend | null } {
    const repeated = this.hashes.get(replica)?.get(index) === hash;
    const verdicts = this.recordPeer(replica, index, hash);
    const own = repeated ? this.ownHash(index) : undefined;
    if (own === undefined) return { verdicts, answer: null };
    const last = this.answered.get(replica);
    if (last && last.index === index && now - last.at < RESEND_FIRST_MS) return { verdicts, answer: null };
    this.answered.set(replica, { index, at: now });
    return { verdicts, answer: { to: replica, index, hash: own } };
  }

  /** This replica's own hash at `index`, when it holds one. */
  ownHash(index: number): string | undefined {
    return this.hashes.get(this.id)?.get(index);
  }

  /**
   * The own latest hash to resend now (`now`: milliseconds on any monotonic clock) to each member that has reported
   * neither it nor a later one: its copy may have been dropped. Each member gets RESENDS of them, backing off.
   */
  resendDue(now: number): HashToSend[] {
    const index = this.ownLatest;
    const hash = index === null ? undefined : this.ownHash(index);
    if (index === null || hash === undefined) return [];
    const members = new Set(this.members());
    const out: HashToSend[] = [];
    for (const to of members) {
      if (to === this.id) continue;
      const theirs = this.hashes.get(to);
      if (theirs && [...theirs.keys()].some((i) => i >= index)) {
        this.resends.delete(to);
        continue;
      }
      let r = this.resends.get(to);
      if (!r || r.index !== index) this.resends.set(to, (r = { index, sent: 0, dueAt: now + RESEND_FIRST_MS }));
      if (r.sent >= RESENDS || now < r.dueAt) continue;
      r.sent++;
      r.dueAt = now + RESEND_FIRST_MS * 2 ** r.sent;
      out.push({ to, index, hash });
    }
    for (const map of [this.resends, this.answered]) for (const id of map.keys()) if (!members.has(id)) map.delete(id);
    return out;
  }

  /** This replica's state was replaced (resync): what it hashed before no longer stands. */
  resetOwn(): void {
    this.resends.clear();
    this.answered.clear();
    this.hashes.delete(this.id);
    this.divergedAt.delete(this.id);
    this.latest.delete(this.id);
  }

  private put(replica: string, index: number, hash: string): void {
    let m = this.hashes.get(replica);
    if (!m) this.hashes.set(replica, (m = new Map()));
    m.set(index, hash);
    if (m.size > KEEP) m.delete(Math.min(...m.keys()));
  }

  private compare(index: number): StateCheckVerdict[] {
    const own = this.hashes.get(this.id)?.get(index);
    if (own === undefined) return [];
    const members = new Set(this.members());
    members.add(this.id);
    const at = new Map<string, string>();
    for (const [replica, m] of this.hashes) {
      const h = m.get(index);
      if (h !== undefined && members.has(replica)) at.set(replica, h);
    }
    // The hash a strict majority of the members reported (every member counts, reported or not).
    const counts = new Map<string, number>();
    for (const h of at.values()) counts.set(h, (counts.get(h) ?? 0) + 1);
    let majorityHash: string | null = null;
    for (const [h, c] of counts) if (c > members.size / 2) majorityHash = h;
    const out: StateCheckVerdict[] = [];
    for (const [replica, hash] of at) {
      if (replica === this.id && majorityHash === null) continue;
      const reference = majorityHash ?? own;
      const agrees = hash === reference;
      const prev = this.latest.get(replica);
      if (!prev || prev.index <= index) this.latest.set(replica, { index, agrees });
      if (agrees) {
        if ((this.divergedAt.get(replica) ?? Infinity) <= index) this.divergedAt.delete(replica);
        continue;
      }
      const diverged = majorityHash !== null;
      if (diverged) this.divergedAt.set(replica, index);
      // Without a majority the line waits for every member's hash (which may make one); status shows it meanwhile.
      if (!diverged && at.size < members.size) continue;
      const key = `${replica}@${index}@${diverged}`;
      if (this.reported.has(key)) continue;
      this.reported.add(key);
      if (this.reported.size > 1000) this.reported.delete(this.reported.values().next().value!);
      this.mismatches++;
      const who = replica === this.id ? `this replica (${this.id})` : `replica ${replica}`;
      const line = diverged
        ? `state hash mismatch at index ${index}: ${who} holds ${short(hash)}, a majority of the ${members.size} members hold ${short(majorityHash!)}: ` +
          `its state diverged; rebuild it: npm run --silent cluster -- --servers LIST --secret-file F resync ${replica}`
        : `state hash mismatch at index ${index}: replica ${replica} holds ${short(hash)}, this replica (${this.id}) holds ${short(own)}; ` +
          'no majority agrees to say which one diverged';
      out.push({ index, replica, hash, ownHash: own, majorityHash, diverged, line });
    }
    return out;
  }
}

function short(hash: string): string {
  return hash.slice(0, 12);
}
