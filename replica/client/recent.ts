/** A bounded set of recently seen message ids, to drop duplicate pushes (resume backlog overlapping live delivery). */
export class RecentIds {
  private readonly ids = new Set<number>();
  constructor(private readonly capacity = 10_000) {}

  /** Records `id`; false when it was already recorded. */
  add(id: number): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return true;
  }

  clear(): void {
    this.ids.clear();
  }
}
