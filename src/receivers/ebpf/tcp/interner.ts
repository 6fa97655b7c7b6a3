// Maps short byte strings (addresses, comms) read from a record to small integer ids without
// allocating on a hit: nested Maps keyed by the 32-bit words. Bounded: at most maxIds ids are live
// at once; when full, intern() gives -1.
// Keys of different lengths (IPv4 = 1 word, IPv6 = 4 words) live in separate tries that share one
// id space, so a 1-word key is never mistaken for the first word of a longer one.
//
// Ids are reclaimable: holders (series) retain() the ids they use and release() them when they are
// forgotten; sweep() (at collection time) frees every id nobody holds, including ids interned for
// events that ended up in no series, and freed ids are handed out again. So a long-running host
// with ever new peers keeps only the ids its live series use.

type Node = Map<number, Node | number>;

const MAX_WORDS = 4;

export class WordInterner {
  private readonly roots: Node[] = [];
  /** Ids never handed out yet start here. */
  private next = 0;
  private live = 0;
  private refs = new Int32Array(256);
  /** The key of each live id (MAX_WORDS words per id) and its length in words; 0 = free. */
  private keys = new Uint32Array(256 * MAX_WORDS);
  private lengths = new Uint8Array(256);
  private readonly free: number[] = [];
  /** Ids that may be unreferenced: new ones, and ones whose count fell to 0. Checked by sweep(). */
  private candidates: number[] = [];
  private readonly path: Node[] = new Array<Node>(MAX_WORDS);

  constructor(private readonly maxIds: number) {}

  /** Live ids. */
  get size(): number {
    return this.live;
  }

  /** True when the last intern() call created its id (then the caller stores the display form). */
  lastWasNew = false;

  /** Id of the `words` 32-bit words at `at` in `view`; -1 when the interner is full. `lastWasNew` tells a miss. */
  intern(view: DataView, at: number, words: number): number {
    this.lastWasNew = false;
    let node = this.roots[words];
    if (node === undefined) node = this.roots[words] = new Map();
    for (let i = 0; i < words - 1; i++) {
      const w = view.getUint32(at + i * 4, true);
      let child = node.get(w) as Node | undefined;
      if (child === undefined) {
        if (this.live >= this.maxIds) return -1;
        child = new Map();
        node.set(w, child);
      }
      node = child;
    }
    const last = view.getUint32(at + (words - 1) * 4, true);
    const id = node.get(last) as number | undefined;
    if (id !== undefined) return id;
    if (this.live >= this.maxIds) return -1;
    const fresh = this.free.length > 0 ? this.free.pop()! : this.next++;
    this.ensureCapacity(fresh);
    for (let i = 0; i < words; i++) this.keys[fresh * MAX_WORDS + i] = view.getUint32(at + i * 4, true);
    this.lengths[fresh] = words;
    this.refs[fresh] = 0;
    this.live++;
    node.set(last, fresh);
    this.candidates.push(fresh);
    this.lastWasNew = true;
    return fresh;
  }

  /** One more holder of `id` (a series that shows it). */
  retain(id: number): void {
    if (id >= 0 && id < this.next && this.lengths[id] !== 0) this.refs[id]!++;
  }

  /** A holder of `id` is gone; the id is freed by the next sweep() if nobody else holds it. */
  release(id: number): void {
    if (id < 0 || id >= this.next || this.lengths[id] === 0 || this.refs[id]! <= 0) return;
    if (--this.refs[id]! === 0) this.candidates.push(id);
  }

  /** Holders of `id` (tests). */
  refCount(id: number): number {
    return id >= 0 && id < this.next ? this.refs[id]! : 0;
  }

  /** Frees every id nobody holds; returns how many were freed. Call between events (collection time). */
  sweep(): number {
    let freed = 0;
    const pending = this.candidates;
    this.candidates = [];
    for (const id of pending) {
      if (this.lengths[id] === 0 || this.refs[id] !== 0) continue;
      this.remove(id);
      freed++;
    }
    return freed;
  }

  private remove(id: number): void {
    const words = this.lengths[id]!;
    const base = id * MAX_WORDS;
    let node = this.roots[words]!;
    for (let i = 0; i < words - 1; i++) {
      this.path[i] = node;
      node = node.get(this.keys[base + i]!) as Node;
    }
    node.delete(this.keys[base + words - 1]!);
    // Prune the intermediate nodes the key alone kept alive.
    for (let i = words - 2; i >= 0 && node.size === 0; i--) {
      const parent = this.path[i]!;
      parent.delete(this.keys[base + i]!);
      node = parent;
    }
    this.lengths[id] = 0;
    this.refs[id] = 0;
    this.live--;
    this.free.push(id);
  }

  private ensureCapacity(id: number): void {
    if (id < this.lengths.length) return;
    const n = Math.min(Math.max(this.lengths.length * 2, id + 1), this.maxIds);
    const refs = new Int32Array(n);
    refs.set(this.refs);
    const keys = new Uint32Array(n * MAX_WORDS);
    keys.set(this.keys);
    const lengths = new Uint8Array(n);
    lengths.set(this.lengths);
    this.refs = refs;
    this.keys = keys;
    this.lengths = lengths;
  }
}
