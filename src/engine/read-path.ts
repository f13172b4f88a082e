/**
 * Point reads: the newest visible version of one key at a read seqno.
 *
 * Sources are visited newest to oldest: active memtable, immutable memtables, level-0 tables
 * (newest first), then at most two tables per deeper level. For each source, the range
 * tombstones covering the key (seqno <= read seqno) are folded into `tombstoneSeqno` BEFORE its
 * entries are looked at; an entry older than `tombstoneSeqno` is deleted. Merge operands are
 * collected until a Put (base), a Delete, a covering tombstone or the end of history.
 */
import { compareBytes } from './base/bytes.js'
import { KeyKind } from './base/internal-key.js'
import type { OpenTable } from './cache/table-cache.js'
import type { InternalIterator } from './iterator/internal-iterator.js'
import type { Memtable } from './memtable/memtable.js'
import { foldOperands, type MergeOperator } from './merge/merge-operator.js'
import type { ReadView } from './read-view.js'
import { LEVEL_COUNT } from './options.js'
import { StrataError, ErrorCode } from './errors.js'

/** State of one lookup as it walks the sources. */
class Lookup {
  tombstoneSeqno = 0
  operands: Buffer[] = []
  done = false
  result: Buffer | undefined = undefined

  constructor(
    readonly key: Buffer,
    readonly seqno: number,
    readonly mergeOperator: MergeOperator | undefined,
  ) {}

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

  /** Consumes the entries of `key` at the iterator's position (already seeked). */
  scan(it: InternalIterator): void {
    while (!this.done && it.valid && it.key.equals(this.key)) {
      if (it.seqno > this.seqno) {
        it.next()
        continue
      }
      if (it.seqno < this.tombstoneSeqno) return this.finish(undefined)
      switch (it.kind) {
        case KeyKind.Put:
          return this.finish(Buffer.from(it.value))
        case KeyKind.Delete:
          return this.finish(undefined)
        case KeyKind.Merge:
          this.operands.push(Buffer.from(it.value))
          it.next()
          break
        default:
          throw new StrataError(ErrorCode.CORRUPTION, `unexpected entry kind ${it.kind} in a point lookup`)
      }
    }
  }

  /** Called when every source is exhausted. */
  end(): Buffer | undefined {
    if (!this.done) this.finish(undefined)
    return this.result
  }
}

function searchMemtable(mem: Memtable, lookup: Lookup): void {
  const t = mem.maxCoveringTombstoneSeqno(lookup.key, lookup.seqno)
  if (t > lookup.tombstoneSeqno) lookup.tombstoneSeqno = t
  if (mem.isEmpty) return
  const it = mem.newIterator()
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
  if (!table.reader.mayContain(lookup.key)) return
  const it = table.reader.newIterator()
  try {
    it.seekGE(lookup.key, lookup.seqno)
    lookup.scan(it)
  } finally {
    it.close()
  }
}

export function getValue(
  view: ReadView,
  tables: (id: number) => OpenTable,
  key: Buffer,
  seqno: number,
  mergeOperator: MergeOperator | undefined,
): Buffer | undefined {
  const lookup = new Lookup(key, seqno, mergeOperator)
  searchMemtable(view.active, lookup)
  for (let i = 0; i < view.immutables.length && !lookup.done; i++) searchMemtable(view.immutables[i]!, lookup)
  const levels = view.version.levels
  for (const meta of levels[0] ?? []) {
    if (lookup.done) break
    if (meta.smallestSeqno > seqno) continue
    if (compareBytes(key, meta.smallestKey) < 0 || compareBytes(key, meta.largestKey) > 0) continue
    searchTable(tables(meta.id), lookup)
  }
  for (let level = 1; level < LEVEL_COUNT && !lookup.done; level++) {
    for (const meta of view.version.findTableForKey(level, key)) {
      if (lookup.done) break
      if (meta.smallestSeqno > seqno) continue
      searchTable(tables(meta.id), lookup)
    }
  }
  return lookup.end()
}
