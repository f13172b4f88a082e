/**
 * Live snapshots: a multiset of pinned seqnos (leveldb db/snapshot.h). Compaction keeps, for
 * every key, the newest version at or below each pinned seqno; `earliest()` bounds what it may
 * drop. A snapshot pins a seqno, not files: files are pinned by Versions (iterators).
 */
import { assert } from './base/assert.js'
import { StrataError, ErrorCode } from './errors.js'

export interface Snapshot {
  readonly seqno: number
  /** Idempotent. */
  release(): void
}

export class SnapshotList {
  private readonly counts = new Map<number, number>()

  acquire(seqno: number): Snapshot {
    assert(Number.isSafeInteger(seqno) && seqno >= 0, 'snapshot seqno')
    this.counts.set(seqno, (this.counts.get(seqno) ?? 0) + 1)
    let released = false
    return {
      seqno,
      release: () => {
        if (released) return
        released = true
        const n = this.counts.get(seqno)
        assert(n !== undefined && n > 0, 'snapshot released twice')
        if (n === 1) this.counts.delete(seqno)
        else this.counts.set(seqno, n - 1)
      },
    }
  }

  has(seqno: number): boolean {
    return this.counts.has(seqno)
  }

  get size(): number {
    let n = 0
    for (const c of this.counts.values()) n += c
    return n
  }

  /** Pinned seqnos, ascending, without duplicates. */
  seqnos(): number[] {
    return [...this.counts.keys()].sort((a, b) => a - b)
  }

  /** The smallest pinned seqno, or `fallback` when none is pinned. */
  earliest(fallback: number): number {
    let min = fallback
    for (const s of this.counts.keys()) if (s < min) min = s
    return min
  }
}

export function closedError(what = 'tree'): StrataError {
  return new StrataError(ErrorCode.CLOSED, `the ${what} is closed`)
}
