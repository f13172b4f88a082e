/**
 * InternalIterator: the cursor every source of internal entries (memtable, table, level,
 * merged view) exposes. It walks internal keys in internal order: user key ascending, seqno
 * descending.
 *
 * Synchronous, because every source reads synchronously (see vfs/vfs.ts); a cursor with
 * accessors avoids allocating an entry object per step on the scan hot path.
 *
 * Contract (leveldb iterator.h):
 * - After any positioning call, `valid` says whether the cursor is on an entry.
 * - `key`, `seqno`, `kind`, `value` require `valid`. The buffers they return are valid only
 *   until the next positioning call; copy to retain.
 * - `next()` and `prev()` require `valid`.
 * - Positioning calls may throw StrataError (CORRUPTION, IO); the cursor is then invalid.
 * - `close()` is idempotent; no call is allowed after it.
 */
import type { KeyKind } from '../base/internal-key.js'

export interface InternalIterator {
  readonly valid: boolean
  /** User key of the current entry. */
  readonly key: Buffer
  readonly seqno: number
  readonly kind: KeyKind
  readonly value: Buffer
  /** Positions at the first entry >= (userKey, seqno) in internal order; seqno defaults to the
   *  maximum, i.e. the newest entry of `userKey` or the first entry after it. */
  seekGE(userKey: Uint8Array, seqno?: number): void
  /** Positions at the last entry whose user key is < `userKey`. */
  seekLT(userKey: Uint8Array): void
  first(): void
  last(): void
  next(): void
  prev(): void
  close(): void
}

/** A range tombstone: deletes every entry with user key in [start, end) and seqno < `seqno`. */
export interface RangeTombstone {
  start: Buffer
  end: Buffer
  seqno: number
}
