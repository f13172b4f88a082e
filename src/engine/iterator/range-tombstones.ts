/**
 * Range tombstone fragmentation (pebble internal/keyspan, docs/range_deletions.md).
 *
 * A range tombstone `[s, e)#n` deletes the point entry `k#m` iff s <= k < e and m < n.
 * Tombstones overlap arbitrarily; fragmenting cuts them at every start and end so that the
 * pieces are non-overlapping and each piece carries the seqnos of every tombstone covering it:
 *
 *   [a, e)#5 and [c, g)#9   =>   [a, c){5}  [c, e){9, 5}  [e, g){9}
 *
 * A point lookup then binary-searches one fragment instead of scanning every tombstone.
 *
 * Invariants of a fragment list:
 * - Each fragment has start < end and a non-empty seqno list, strictly descending.
 * - Fragments are sorted by start and do not overlap (fragment i's end <= fragment i+1's start).
 * - Adjacent fragments may carry identical seqno sets (they are not merged back).
 * - The list covers exactly the union of the input ranges, with exactly the input seqnos.
 * Buffers of the input tombstones are shared, never copied.
 */
import { assert } from '../base/assert.js'
import { compareBytes } from '../base/bytes.js'
import type { RangeTombstone } from './internal-iterator.js'

export interface TombstoneFragment {
  start: Buffer
  end: Buffer
  /** Seqnos of the tombstones covering [start, end), descending, without duplicates. */
  seqnos: number[]
}

/** Cuts tombstones into non-overlapping fragments sorted by start. O(n log n + output). */
export function fragmentTombstones(tombstones: readonly RangeTombstone[]): TombstoneFragment[] {
  for (const tombstone of tombstones) {
    assert(compareBytes(tombstone.start, tombstone.end) < 0, 'range tombstone needs start < end')
    assert(Number.isSafeInteger(tombstone.seqno) && tombstone.seqno >= 0, 'tombstone seqno')
  }
  const byStart = [...tombstones].sort((a, b) => compareBytes(a.start, b.start))
  const bounds = sortedBoundaries(tombstones)
  const fragments: TombstoneFragment[] = []
  let active: RangeTombstone[] = []
  let nextStart = 0
  for (let i = 0; i + 1 < bounds.length; i++) {
    const start = bounds[i] as Buffer
    const end = bounds[i + 1] as Buffer
    active = active.filter((t) => compareBytes(t.end, start) > 0)
    for (; nextStart < byStart.length; nextStart++) {
      const tombstone = byStart[nextStart] as RangeTombstone
      if (compareBytes(tombstone.start, start) !== 0) break
      active.push(tombstone)
    }
    if (active.length === 0) continue
    fragments.push({ start, end, seqnos: descendingUnique(active.map((t) => t.seqno)) })
  }
  assert(nextStart === byStart.length, 'every tombstone start is a boundary')
  return fragments
}

/** Every start and end, sorted, without duplicates. */
function sortedBoundaries(tombstones: readonly RangeTombstone[]): Buffer[] {
  const all: Buffer[] = []
  for (const tombstone of tombstones) all.push(tombstone.start, tombstone.end)
  all.sort(compareBytes)
  const unique: Buffer[] = []
  for (const bound of all) {
    const previous = unique[unique.length - 1]
    if (previous === undefined || compareBytes(previous, bound) !== 0) unique.push(bound)
  }
  return unique
}

function descendingUnique(seqnos: number[]): number[] {
  seqnos.sort((a, b) => b - a)
  const out: number[] = []
  for (const seqno of seqnos) if (out.length === 0 || out[out.length - 1] !== seqno) out.push(seqno)
  assert(out.length > 0, 'a fragment has at least one seqno')
  return out
}

/** Fragmented tombstones with point queries by binary search. Immutable once built. */
export class FragmentedTombstones {
  readonly #fragments: readonly TombstoneFragment[]

  private constructor(fragments: readonly TombstoneFragment[]) {
    this.#fragments = fragments
  }

  static from(tombstones: readonly RangeTombstone[]): FragmentedTombstones {
    return new FragmentedTombstones(fragmentTombstones(tombstones))
  }

  get isEmpty(): boolean {
    return this.#fragments.length === 0
  }

  fragments(): readonly TombstoneFragment[] {
    return this.#fragments
  }

  /** Largest seqno <= readSeqno of a tombstone covering userKey, or 0 if none. O(log n). */
  maxCoveringSeqno(userKey: Uint8Array, readSeqno: number): number {
    assert(readSeqno >= 0, 'read seqno must be non-negative')
    const fragment = this.#fragmentAt(userKey)
    if (fragment === undefined) return 0
    // seqnos descend: find the first one <= readSeqno.
    const seqnos = fragment.seqnos
    let low = 0
    let high = seqnos.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if ((seqnos[mid] as number) > readSeqno) low = mid + 1
      else high = mid
    }
    return low < seqnos.length ? (seqnos[low] as number) : 0
  }

  /** Whether a tombstone t with entrySeqno < t <= readSeqno covers userKey: the entry
   *  userKey#entrySeqno is deleted as seen at readSeqno. */
  covers(userKey: Uint8Array, entrySeqno: number, readSeqno: number): boolean {
    assert(entrySeqno >= 0, 'entry seqno must be non-negative')
    return this.maxCoveringSeqno(userKey, readSeqno) > entrySeqno
  }

  /** The fragment containing userKey, if any. */
  #fragmentAt(userKey: Uint8Array): TombstoneFragment | undefined {
    const fragments = this.#fragments
    // Last fragment with start <= userKey.
    let low = 0
    let high = fragments.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (compareBytes((fragments[mid] as TombstoneFragment).start, userKey) <= 0) low = mid + 1
      else high = mid
    }
    if (low === 0) return undefined
    const fragment = fragments[low - 1] as TombstoneFragment
    return compareBytes(userKey, fragment.end) < 0 ? fragment : undefined
  }
}
