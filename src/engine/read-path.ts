/**
 * Point reads: the newest visible version of one key at a read seqno.
 *
 * Sources are visited newest to oldest: active memtable, immutable memtables, level-0 tables
 * (newest first), then the tables of each deeper level whose range holds the key (binary
 * search; at most two, see version.ts). For each source, the range tombstones covering the key
 * (seqno <= read seqno) are folded into `tombstoneSeqno` BEFORE its entries are looked at; an
 * entry older than `tombstoneSeqno` is deleted. Merge operands are collected until a Put
 * (base), a Delete, a covering tombstone or the end of history.
 *
 * The fast path (what makes Tree.get cheap): memtables are searched by a B+tree descent that
 * offers the key's entries to the Lookup directly; a table answers through
 * TableReader.findPoint (filter, decoded index, cached parsed block, searched on its bytes), so
 * a get allocates no iterator, cursor or key copy, only its result. A table whose newest
 * visible entry of the key is a merge operand (or whose layout surprises findPoint) is read
 * with its TableIterator instead, from the same Lookup state: findPoint changes nothing in the
 * Lookup, so the fallback sees exactly what the general path always saw.
 */
import { compareBytes } from './base/bytes.js'
import { KeyKind } from './base/internal-key.js'
import type { OpenTable } from './cache/table-cache.js'
import type { InternalIterator } from './iterator/internal-iterator.js'
import type { Memtable, PointVisitor } from './memtable/memtable.js'
import { foldOperands, type MergeOperator } from './merge/merge-operator.js'
import type { ReadView } from './read-view.js'
import { LEVEL_COUNT } from './options.js'
import { StrataError, ErrorCode } from './errors.js'
import { PointEntry } from './sstable/point-lookup.js'
import { PointStatus } from './sstable/table-reader.js'
import type { TableMeta } from './version/file-metadata.js'

/** A fresh Buffer holding data[start, end): the caller owns it. */
function copyOut(data: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start)
  data.copy(out, 0, start, end)
  return out
}

/** State of one lookup as it walks the sources. Reused across gets (see acquireLookup). */
class Lookup implements PointVisitor {
  key: Buffer = Buffer.alloc(0)
  seqno = 0
  mergeOperator: MergeOperator | undefined = undefined
  tombstoneSeqno = 0
  operands: Buffer[] = []
  done = false
  result: Buffer | undefined = undefined
  /** Where TableReader.findPoint describes its answer. */
  readonly point = new PointEntry()

  reset(key: Buffer, seqno: number, mergeOperator: MergeOperator | undefined): void {
    this.key = key
    this.seqno = seqno
    this.mergeOperator = mergeOperator
    this.tombstoneSeqno = 0
    if (this.operands.length > 0) this.operands = []
    this.done = false
    this.result = undefined
  }

  private finish(base: Buffer | undefined): void {
    this.done = true
    if (this.operands.length === 0) {
      this.result = base
      return
    }
    const op = this.mergeOperator
    if (!op) throw new StrataError(ErrorCode.NO_MERGE_OPERATOR, 'merge operands found but the tree has no merge operator')
    this.result = foldOperands(op, this.key, this.operands, base)
  }

  /**
   * Takes the next older visible entry of the key (seqno <= read seqno); true to be offered
   * the one after it (the entry was a merge operand).
   */
  offer(seqno: number, kind: KeyKind, data: Buffer, start: number, end: number): boolean {
    if (seqno < this.tombstoneSeqno) {
      this.finish(undefined)
      return false
    }
    switch (kind) {
      case KeyKind.Put:
        this.finish(copyOut(data, start, end))
        return false
      case KeyKind.Delete:
        this.finish(undefined)
        return false
      case KeyKind.Merge:
        this.operands.push(copyOut(data, start, end))
        return true
      default:
        throw new StrataError(ErrorCode.CORRUPTION, `unexpected entry kind ${kind} in a point lookup`)
    }
  }

  /** Consumes the entries of `key` at the iterator's position (already seeked). */
  scan(it: InternalIterator): void {
    while (!this.done && it.valid && it.key.equals(this.key)) {
      if (it.seqno > this.seqno) {
        it.next()
        continue
      }
      const value = it.value
      if (!this.offer(it.seqno, it.kind, value, 0, value.length)) return
      it.next()
    }
  }

  /** Called when every source is exhausted. */
  end(): Buffer | undefined {
    if (!this.done) this.finish(undefined)
    return this.result
  }
}

/**
 * One Lookup serves every get: gets are synchronous, so it is free again when getValue
 * returns. A merge operator that calls get from inside a fold (reentrancy) gets a fresh one.
 */
const shared = new Lookup()
let sharedInUse = false

function searchMemtable(mem: Memtable, lookup: Lookup): void {
  const t = mem.maxCoveringTombstoneSeqno(lookup.key, lookup.seqno)
  if (t > lookup.tombstoneSeqno) lookup.tombstoneSeqno = t
  mem.visitKey(lookup.key, lookup.seqno, lookup)
}

function searchTableWithIterator(table: OpenTable, lookup: Lookup): void {
  const it = table.reader.newIterator()
  try {
    it.seekGE(lookup.key, lookup.seqno)
    lookup.scan(it)
  } finally {
    it.close()
  }
}

function searchTable(table: OpenTable, lookup: Lookup): void {
  if (!table.tombstones.isEmpty) {
    const t = table.tombstones.maxCoveringSeqno(lookup.key, lookup.seqno)
    if (t > lookup.tombstoneSeqno) lookup.tombstoneSeqno = t
  }
  const reader = table.reader
  if (!reader.mayContain(lookup.key)) return
  const point = lookup.point
  switch (reader.findPoint(lookup.key, lookup.seqno, point)) {
    case PointStatus.Absent:
      return
    case PointStatus.Found:
      lookup.offer(point.seqno, point.kind as KeyKind, point.data, point.valueStart, point.valueEnd)
      return
    default:
      searchTableWithIterator(table, lookup)
  }
}

/** Index of the first table of a sorted level whose largestKey >= key. */
function firstEndingAtOrAfter(tables: readonly TableMeta[], key: Uint8Array): number {
  let low = 0
  let high = tables.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (compareBytes(tables[middle]!.largestKey, key) < 0) low = middle + 1
    else high = middle
  }
  return low
}

function searchSources(view: ReadView, tables: (id: number) => OpenTable, lookup: Lookup): void {
  const { key, seqno } = lookup
  searchMemtable(view.active, lookup)
  for (let i = 0; i < view.immutables.length && !lookup.done; i++) searchMemtable(view.immutables[i]!, lookup)
  const levels = view.version.levels
  const level0 = levels[0]!
  for (let i = 0; i < level0.length && !lookup.done; i++) {
    const meta = level0[i]!
    if (meta.smallestSeqno > seqno) continue
    if (compareBytes(key, meta.smallestKey) < 0 || compareBytes(key, meta.largestKey) > 0) continue
    searchTable(tables(meta.id), lookup)
  }
  for (let level = 1; level < LEVEL_COUNT && !lookup.done; level++) {
    const sorted = levels[level]!
    // Neighbours may share a boundary key, so every table from the first ending at or after
    // the key up to the first starting after it is searched, in key order (older versions of
    // a key cut across two tables are in the second).
    for (let i = firstEndingAtOrAfter(sorted, key); i < sorted.length && !lookup.done; i++) {
      const meta = sorted[i]!
      if (compareBytes(meta.smallestKey, key) > 0) break
      if (meta.smallestSeqno > seqno) continue
      searchTable(tables(meta.id), lookup)
    }
  }
}

export function getValue(
  view: ReadView,
  tables: (id: number) => OpenTable,
  key: Buffer,
  seqno: number,
  mergeOperator: MergeOperator | undefined,
): Buffer | undefined {
  const reuse = !sharedInUse
  const lookup = reuse ? shared : new Lookup()
  lookup.reset(key, seqno, mergeOperator)
  if (reuse) sharedInUse = true
  try {
    searchSources(view, tables, lookup)
    return lookup.end()
  } finally {
    if (reuse) {
      lookup.reset(EMPTY_KEY, 0, undefined) // drop references to the key, operands, result
      sharedInUse = false
    }
  }
}

const EMPTY_KEY = Buffer.alloc(0)
