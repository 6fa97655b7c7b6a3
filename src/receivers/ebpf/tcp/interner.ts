// Maps short byte strings (addresses, comms) read from a record to small integer ids without
// allocating on a hit: nested Maps keyed by the 32-bit words. Bounded: when full, intern() gives -1.
// Keys of different lengths (IPv4 = 1 word, IPv6 = 4 words) live in separate tries that share one
// id space, so a 1-word key is never mistaken for the first word of a longer one.

type Node = Map<number, Node | number>;

export class WordInterner {
  private readonly roots: Node[] = [];
  private next = 0;
  constructor(private readonly maxIds: number) {}

  get size(): number {
    return this.next;
  }

  /** Id of the `words` 32-bit words at `at` in `view`; -1 when the interner is full. `isNew` tells a miss. */
  intern(view: DataView, at: number, words: number): number {
    this.lastWasNew = false;
    let node = this.roots[words];
    if (node === undefined) node = this.roots[words] = new Map();
    for (let i = 0; i < words - 1; i++) {
      const w = view.getUint32(at + i * 4, true);
      let child = node.get(w) as Node | undefined;
      if (child === undefined) {
        if (this.next >= this.maxIds) return -1;
        child = new Map();
        node.set(w, child);
      }
      node = child;
    }
    const last = view.getUint32(at + (words - 1) * 4, true);
    const id = node.get(last) as number | undefined;
    if (id !== undefined) return id;
    if (this.next >= this.maxIds) return -1;
    const fresh = this.next++;
    node.set(last, fresh);
    this.lastWasNew = true;
    return fresh;
  }

  /** True when the last intern() call created its id (then the caller stores the display form). */
  lastWasNew = false;
}
