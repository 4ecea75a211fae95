// Fixed-capacity ring of log lines.
//
// Two numberings: protocol `seq` (0-based index of a line in its stream, as sent by Python)
// and ring `ordinal` (0-based count of lines ever appended to this ring). They differ by a
// constant unless lines were skipped (a gap accepted with `force`), so rendering, anchoring
// and filtering use ordinals, which are always contiguous; the protocol uses `nextSeq`.
// Lines from before seq 0 (a log opened at its last lines) may be prepended while the ring
// still holds seq 0 and has room: they take the ordinals below the first held one.

export interface PushResult {
  /** Lines appended (after dropping ones already held). */
  added: number;
  /** Missing seq range [from, to) when the batch starts after `nextSeq` and was not forced. */
  gap: { from: number; to: number } | null;
}

export class LineRing {
  private buf: string[] = [];
  private head = 0; // slot of the oldest held line
  private count = 0;
  private endOrd = 0; // ordinal after the newest line
  private next = 0; // next expected seq
  private earlier = 0; // held lines from before seq 0 (the oldest held ones)
  private earlierLost = 0; // lines from before seq 0 evicted since
  /** Bumped by clear(): dependents (e.g. FilterIndex) must rebuild. */
  generation = 0;

  constructor(private cap: number) {
    if (!(cap >= 1)) throw new RangeError("capacity must be >= 1");
    this.cap = Math.floor(cap);
  }

  get capacity(): number {
    return this.cap;
  }
  get size(): number {
    return this.count;
  }
  /** Seq the next line should have. */
  get nextSeq(): number {
    return this.next;
  }
  /** Ordinal of the oldest held line. */
  get firstOrdinal(): number {
    return this.endOrd - this.count;
  }
  /** Ordinal after the newest held line. */
  get endOrdinal(): number {
    return this.endOrd;
  }
  /** Lines not held: of seq range [0, nextSeq) (kernel-dropped, skipped gaps, evictions) and
   *  prepended lines evicted since. */
  get dropped(): number {
    return this.next - (this.count - this.earlier) + this.earlierLost;
  }

  /** Room for lines before the first held one: the held lines run unbroken from it to the
   *  newest (nothing dropped), so lines just before it can be prepended. 0: none. */
  get roomBefore(): number {
    return this.dropped === 0 ? this.cap - this.count : 0;
  }

  /** Puts `lines` (the lines just before the first held one) in front; false when they do not
   *  fit (see roomBefore). Dependents rebuild (generation). */
  prepend(lines: readonly string[]): boolean {
    if (lines.length > this.roomBefore) return false;
    if (lines.length === 0) return true;
    const held = this.slice();
    this.buf = [...lines, ...held];
    this.head = 0;
    this.count = this.buf.length;
    this.earlier += lines.length;
    this.generation++;
    return true;
  }

  /**
   * Appends a batch whose first line has protocol seq `seq`. Lines already held (seq below
   * nextSeq) are ignored. A batch starting after nextSeq is a gap: it is refused and the
   * missing range returned, unless `force` (the gap is final: counted as dropped).
   */
  push(seq: number, lines: readonly string[], force = false): PushResult {
    if (seq > this.next) {
      if (!force) return { added: 0, gap: { from: this.next, to: seq } };
      this.next = seq;
    }
    const skip = this.next - seq;
    for (let i = skip; i < lines.length; i++) this.append(lines[i]);
    const added = Math.max(0, lines.length - skip);
    this.next += added;
    return { added, gap: null };
  }

  private append(line: string): void {
    if (this.count < this.cap) {
      const slot = (this.head + this.count) % this.cap;
      if (slot === this.buf.length) this.buf.push(line);
      else this.buf[slot] = line;
      this.count++;
    } else {
      this.buf[this.head] = line;
      this.head = (this.head + 1) % this.cap;
      if (this.earlier > 0) {
        this.earlier--;
        this.earlierLost++;
      }
    }
    this.endOrd++;
  }

  /** Line at ordinal `ord`, or undefined when not held. */
  get(ord: number): string | undefined {
    const i = ord - this.firstOrdinal;
    if (i < 0 || i >= this.count) return undefined;
    return this.buf[(this.head + i) % this.cap];
  }

  /** Held lines with ordinals in [from, to) (clamped). */
  slice(from: number = this.firstOrdinal, to: number = this.endOrd): string[] {
    const out: string[] = [];
    const lo = Math.max(from, this.firstOrdinal);
    const hi = Math.min(to, this.endOrd);
    for (let o = lo; o < hi; o++) out.push(this.get(o) as string);
    return out;
  }

  /** Ordinals of held lines matching `pred`, oldest first, starting at ordinal `from`. */
  filter(pred: (line: string) => boolean, from: number = this.firstOrdinal): number[] {
    const out: number[] = [];
    for (let o = Math.max(from, this.firstOrdinal); o < this.endOrd; o++) {
      if (pred(this.get(o) as string)) out.push(o);
    }
    return out;
  }

  /** Forgets every line and restarts at seq 0 (a `reset` message). */
  clear(): void {
    this.buf = [];
    this.head = 0;
    this.count = 0;
    this.next = 0;
    this.earlier = 0;
    this.earlierLost = 0;
    this.generation++;
  }

  /** Changes the capacity, keeping the newest lines (older ones count as dropped). */
  resize(cap: number): void {
    cap = Math.floor(cap);
    if (!(cap >= 1) || cap === this.cap) return;
    const keep = this.slice(Math.max(this.firstOrdinal, this.endOrd - cap));
    const lost = Math.min(this.earlier, this.count - keep.length);
    this.earlier -= lost;
    this.earlierLost += lost;
    this.buf = keep;
    this.head = 0;
    this.count = keep.length;
    this.cap = cap;
  }
}

/** Ordinals of the ring's lines that match a query, kept up to date incrementally. */
export class FilterIndex {
  private ords: number[] = [];
  private start = 0; // ords[start..] are live
  private scanned = 0; // ordinal up to which lines were tested
  private gen = -1;
  private pred: ((line: string) => boolean) | null = null;

  constructor(private ring: LineRing) {}

  get active(): boolean {
    return this.pred !== null;
  }

  /** Sets the predicate (null: no filtering) and rescans on the next update(). */
  setPredicate(pred: ((line: string) => boolean) | null): void {
    this.pred = pred;
    this.gen = -1;
  }

  /** Tests lines appended since the last call and forgets evicted ones. */
  update(): void {
    const ring = this.ring;
    if (!this.pred) return;
    if (this.gen !== ring.generation) {
      this.ords = [];
      this.start = 0;
      this.scanned = ring.firstOrdinal;
      this.gen = ring.generation;
    }
    for (const o of ring.filter(this.pred, this.scanned)) this.ords.push(o);
    this.scanned = ring.endOrdinal;
    const first = ring.firstOrdinal;
    while (this.start < this.ords.length && this.ords[this.start] < first) this.start++;
    if (this.start > 4096 && this.start * 2 > this.ords.length) {
      this.ords = this.ords.slice(this.start);
      this.start = 0;
    }
  }

  get length(): number {
    return this.ords.length - this.start;
  }

  /** Ordinal of the i-th match. */
  at(i: number): number {
    return this.ords[this.start + i];
  }

  /** Index of the first match with ordinal >= ord (binary search). */
  indexOf(ord: number): number {
    let lo = this.start;
    let hi = this.ords.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ords[mid] < ord) lo = mid + 1;
      else hi = mid;
    }
    return lo - this.start;
  }
}
