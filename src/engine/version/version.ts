/**
 * Version: an immutable snapshot of the tree's files by level (leveldb db/version_set.h
 * Version, pebble internal/manifest/version.go). Readers, iterators, snapshots and checkpoints
 * hold one; a new Version is made only by applyEdit (compose.ts).
 *
 * Invariants (checkInvariants asserts them; applyEdit calls it on every Version it builds):
 * - There are exactly LEVEL_COUNT levels; every table's `level` is the index of its level.
 * - Table ids are unique across all levels; blob file ids are unique and sorted ascending.
 * - Every table has smallestKey <= largestKey and smallestSeqno <= largestSeqno.
 * - L0 is sorted newest first: largestSeqno descending, then id descending. Its key ranges
 *   may overlap.
 * - L1+ is sorted by smallestKey, strictly ascending, and consecutive tables do not overlap:
 *   previous.largestKey <= next.smallestKey. Ranges are inclusive user-key ranges, so two
 *   neighbours may share one boundary key (a range tombstone end, or versions of one key cut
 *   across two tables); hence at most two tables of a level contain any key.
 * - Arrays are frozen; TableMeta objects are shared between Versions and never mutated.
 */
import { assert } from '../base/assert.js'
import { compareBytes } from '../base/bytes.js'
import { LEVEL_COUNT } from '../options.js'
import type { BlobMeta, TableMeta } from './file-metadata.js'

/** L0 order: newest first (largestSeqno descending, then id descending). */
export function compareL0(a: TableMeta, b: TableMeta): number {
  if (a.largestSeqno !== b.largestSeqno) return b.largestSeqno - a.largestSeqno
  return b.id - a.id
}

/** L1+ order: smallestKey ascending. */
export function compareBySmallestKey(a: TableMeta, b: TableMeta): number {
  return compareBytes(a.smallestKey, b.smallestKey)
}

export class Version {
  readonly id: number
  readonly levels: readonly (readonly TableMeta[])[]
  /** Blob files referenced by this Version, sorted by id. */
  readonly blobFiles: readonly BlobMeta[]

  /**
   * Requires: `levels` already ordered as the file comment says (applyEdit sorts them).
   * The arrays are copied and frozen.
   */
  constructor(id: number, levels: readonly (readonly TableMeta[])[], blobFiles: readonly BlobMeta[] = []) {
    assert(Number.isSafeInteger(id) && id >= 0, 'version id is a non-negative safe integer')
    assert(levels.length === LEVEL_COUNT, 'a Version has LEVEL_COUNT levels')
    this.id = id
    this.levels = Object.freeze(levels.map((level) => Object.freeze([...level])))
    this.blobFiles = Object.freeze([...blobFiles])
  }

  static empty(): Version {
    return new Version(0, Array.from({ length: LEVEL_COUNT }, () => []))
  }

  /** All tables, L0 (newest first) then L1, L2, ... in key order. A fresh array. */
  allTables(): TableMeta[] {
    return this.levels.flat()
  }

  tableCount(): number {
    let count = 0
    for (const level of this.levels) count += level.length
    return count
  }

  levelBytes(level: number): number {
    assert(Number.isInteger(level) && level >= 0 && level < LEVEL_COUNT, 'level out of range')
    let bytes = 0
    for (const table of this.levels[level] as readonly TableMeta[]) bytes += table.sizeBytes
    return bytes
  }

  /** Bytes of all tables (blob files not included). */
  totalBytes(): number {
    let bytes = 0
    for (let level = 0; level < LEVEL_COUNT; level++) bytes += this.levelBytes(level)
    return bytes
  }

  private level(level: number): readonly TableMeta[] {
    assert(Number.isInteger(level) && level >= 0 && level < LEVEL_COUNT, 'level out of range')
    return this.levels[level] as readonly TableMeta[]
  }

  /** Index of the first table of L1+ `tables` whose largestKey >= userKey. */
  private static firstEndingAtOrAfter(tables: readonly TableMeta[], userKey: Uint8Array): number {
    let low = 0
    let high = tables.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (compareBytes((tables[middle] as TableMeta).largestKey, userKey) < 0) low = middle + 1
      else high = middle
    }
    return low
  }

  /**
   * Tables of `level` whose inclusive range [smallestKey, largestKey] intersects the inclusive
   * range [smallestKey, largestKey], in level order.
   */
  overlappingTables(level: number, smallestKey: Uint8Array, largestKey: Uint8Array): TableMeta[] {
    assert(compareBytes(smallestKey, largestKey) <= 0, 'query range inverted')
    const tables = this.level(level)
    const overlaps = (table: TableMeta): boolean =>
      compareBytes(table.largestKey, smallestKey) >= 0 && compareBytes(table.smallestKey, largestKey) <= 0
    if (level === 0) return tables.filter(overlaps)
    const found: TableMeta[] = []
    for (let i = Version.firstEndingAtOrAfter(tables, smallestKey); i < tables.length; i++) {
      const table = tables[i] as TableMeta
      if (compareBytes(table.smallestKey, largestKey) > 0) break
      found.push(table)
    }
    return found
  }

  /** The (at most two) tables of L1+ `level` whose range contains `userKey`, in key order. */
  findTableForKey(level: number, userKey: Uint8Array): TableMeta[] {
    assert(level >= 1, 'findTableForKey is for sorted levels (L1+)')
    const tables = this.level(level)
    const found: TableMeta[] = []
    for (let i = Version.firstEndingAtOrAfter(tables, userKey); i < tables.length && found.length < 2; i++) {
      const table = tables[i] as TableMeta
      if (compareBytes(table.smallestKey, userKey) > 0) break
      found.push(table)
    }
    assert(found.length <= 2, 'at most two tables of a sorted level contain a key')
    return found
  }

  /** Throws AssertionError naming the first invariant (see the file comment) that fails. */
  checkInvariants(): void {
    assert(this.levels.length === LEVEL_COUNT, 'a Version has LEVEL_COUNT levels')
    const ids = new Set<number>()
    for (let level = 0; level < LEVEL_COUNT; level++) {
      const tables = this.level(level)
      for (const table of tables) {
        assert(table.level === level, `table ${table.id} is filed under L${level} but says L${table.level}`)
        assert(!ids.has(table.id), `table ${table.id} appears twice`)
        ids.add(table.id)
        assert(compareBytes(table.smallestKey, table.largestKey) <= 0, `table ${table.id} key range inverted`)
        assert(table.smallestSeqno <= table.largestSeqno, `table ${table.id} seqno range inverted`)
      }
      for (let i = 1; i < tables.length; i++) {
        checkNeighbours(level, tables[i - 1] as TableMeta, tables[i] as TableMeta)
      }
    }
    for (let i = 1; i < this.blobFiles.length; i++) {
      const previous = this.blobFiles[i - 1] as BlobMeta
      assert(previous.id < (this.blobFiles[i] as BlobMeta).id, 'blob files sorted by id, unique')
    }
  }
}

function checkNeighbours(level: number, previous: TableMeta, next: TableMeta): void {
  if (level === 0) {
    assert(compareL0(previous, next) < 0, `L0 tables ${previous.id}, ${next.id} not newest first`)
    return
  }
  assert(
    compareBytes(previous.smallestKey, next.smallestKey) < 0,
    `L${level} tables ${previous.id}, ${next.id} not in strictly ascending key order`,
  )
  assert(
    compareBytes(previous.largestKey, next.smallestKey) <= 0,
    `L${level} tables ${previous.id} and ${next.id} overlap`,
  )
}
