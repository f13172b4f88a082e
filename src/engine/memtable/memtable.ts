/**
 * Memtable: the in-memory write buffer (leveldb db/memtable.cc). Point entries live in a
 * B+tree in internal order (btree.ts); range tombstones are kept apart, as added, and
 * fragmented lazily for lookups (pebble keeps them in a separate skiplist).
 *
 * Invariants:
 * - Written by one writer (the commit pipeline); read by any number of iterators on the same
 *   thread, which may stay open while adds happen between their calls. An open iterator keeps
 *   its entry and always walks in internal order; a step sees entries added ahead of it in
 *   its direction of travel (see btree.ts). Readers filter by their read seqno, so entries
 *   newer than a reader's snapshot are skipped above this layer.
 * - (user key, seqno) pairs of point entries are unique; seqnos are >= 1.
 * - Keys and values are copied into the B+tree's arena (arena.ts) on add: the memtable costs
 *   its bytes, not a Buffer object per key and value. Views it hands out are read-only.
 * - Nothing is ever removed: a memtable only grows until it is frozen and flushed.
 */
import { assert } from '../base/assert.js'
import { KeyKind, KEY_BYTES_MAX, MAX_SEQNO } from '../base/internal-key.js'
import type { InternalIterator, RangeTombstone } from '../iterator/internal-iterator.js'
import { FragmentedTombstones } from '../iterator/range-tombstones.js'
import { BTree, compareUserKeys, type PointVisitor } from './btree.js'

export type { PointVisitor } from './btree.js'

/**
 * Bytes an entry costs beyond its key and value bytes: the arena record header (6 B) and
 * slab tail slack, plus ~44 B of B+tree slots (reference, seqno, kind). Measured: 168.7 B per
 * entry of 16 + 100 payload bytes (heapUsed + arrayBuffers after a forced GC, 370,000 random
 * entries; docs/benchmarks.md "Read path and memory work"), rounded up, so that memtableBytes
 * bounds what the memtable really holds. (Before the arena it was ~494 B per such entry.)
 */
export const ENTRY_OVERHEAD_BYTES = 56

export class Memtable {
  readonly #tree = new BTree()
  readonly #tombstones: RangeTombstone[] = []
  /** Fragments of #tombstones; undefined when a tombstone was added since the last build. */
  #fragmented: FragmentedTombstones | undefined = undefined
  #approximateBytes = 0
  #smallestSeqno = 0
  #largestSeqno = 0

  /** Adds a Put, Delete or Merge. Requires: (userKey, seqno) not added before. */
  add(userKey: Buffer, seqno: number, kind: KeyKind, value: Buffer): void {
    assert(kind === KeyKind.Put || kind === KeyKind.Delete || kind === KeyKind.Merge, 'point kind')
    assert(userKey.length >= 1, 'keys are at least one byte')
    assert(userKey.length <= KEY_BYTES_MAX, 'key longer than KEY_BYTES_MAX')
    this.#noteSeqno(seqno)
    this.#tree.insert(userKey, seqno, kind, value)
    this.#approximateBytes += userKey.length + value.length + ENTRY_OVERHEAD_BYTES
  }

  /** Adds a tombstone deleting every entry in [start, end) with seqno < `seqno`. */
  addRangeTombstone(start: Buffer, end: Buffer, seqno: number): void {
    assert(compareUserKeys(start, end) < 0, 'range tombstone needs start < end')
    assert(end.length <= KEY_BYTES_MAX, 'tombstone end longer than KEY_BYTES_MAX')
    this.#noteSeqno(seqno)
    this.#tombstones.push({ start, end, seqno })
    this.#fragmented = undefined
    this.#approximateBytes += start.length + end.length + ENTRY_OVERHEAD_BYTES
  }

  /** Keys + values + ENTRY_OVERHEAD_BYTES per point entry and per range tombstone. */
  get approximateBytes(): number {
    return this.#approximateBytes
  }

  /** Point entries plus range tombstones. */
  get entryCount(): number {
    return this.#tree.count + this.#tombstones.length
  }

  get isEmpty(): boolean {
    return this.entryCount === 0
  }

  /** Smallest seqno of anything added; 0 when empty. */
  get smallestSeqno(): number {
    return this.#smallestSeqno
  }

  /** Largest seqno of anything added; 0 when empty. */
  get largestSeqno(): number {
    return this.#largestSeqno
  }

  /** Point entries only, in internal order; every cursor operation is supported. */
  newIterator(): InternalIterator {
    return this.#tree.cursor()
  }

  /**
   * Offers `visitor` the point entries of `userKey` with seqno <= `readSeqno`, newest first,
   * until it declines one (btree.ts visitKey). Range tombstones are not offered: ask
   * maxCoveringTombstoneSeqno first.
   */
  visitKey(userKey: Uint8Array, readSeqno: number, visitor: PointVisitor): void {
    if (this.#tree.count > 0) this.#tree.visitKey(userKey, readSeqno, visitor)
  }

  /** Largest seqno <= readSeqno of a range tombstone covering userKey; 0 if none. */
  maxCoveringTombstoneSeqno(userKey: Uint8Array, readSeqno: number): number {
    if (this.#tombstones.length === 0) return 0
    return this.fragmentedTombstones().maxCoveringSeqno(userKey, readSeqno)
  }

  /** The fragmented view of the range tombstones, rebuilt only after an add. */
  fragmentedTombstones(): FragmentedTombstones {
    if (this.#fragmented === undefined) this.#fragmented = FragmentedTombstones.from(this.#tombstones)
    return this.#fragmented
  }

  /** Range tombstones in the order they were added. */
  rangeTombstones(): readonly RangeTombstone[] {
    return this.#tombstones
  }

  #noteSeqno(seqno: number): void {
    assert(Number.isSafeInteger(seqno), 'seqno must be a safe integer')
    assert(seqno >= 1 && seqno <= MAX_SEQNO, 'seqno out of range')
    if (this.#smallestSeqno === 0 || seqno < this.#smallestSeqno) this.#smallestSeqno = seqno
    if (seqno > this.#largestSeqno) this.#largestSeqno = seqno
  }
}
