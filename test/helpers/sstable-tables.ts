/**
 * Helpers for the sstable tests: write a table into a MemVfs, open it, and a sorted-array model
 * of internal entries to compare iterators against.
 */
import { compareKeySeqno, type KeyKind } from '../../src/engine/base/internal-key.js'
import type { BlockCache } from '../../src/engine/cache/block-cache.js'
import type { InternalIterator } from '../../src/engine/iterator/internal-iterator.js'
import { type BuiltTable, TableBuilder, type TableBuilderOptions } from '../../src/engine/sstable/table-builder.js'
import { TableReader } from '../../src/engine/sstable/table-reader.js'
import { MemVfs } from '../../src/engine/vfs/mem-vfs.js'

export interface ModelEntry {
  userKey: Buffer
  seqno: number
  kind: KeyKind
  value: Buffer
}

export interface ModelTombstone {
  start: Buffer
  end: Buffer
  seqno: number
}

export const TABLE_DIR = '/db'

export function tableName(fileNumber: number): string {
  return `${String(fileNumber).padStart(6, '0')}.sst`
}

export function compareEntries(a: ModelEntry, b: ModelEntry): number {
  return compareKeySeqno(a.userKey, a.seqno, a.kind, b.userKey, b.seqno, b.kind)
}

export const DEFAULT_BUILDER_OPTIONS: TableBuilderOptions = {
  blockBytes: 4096,
  compression: 'none',
  filterBitsPerKey: 10,
  creationTimeMs: 1_700_000_000_000,
}

/** Writes a table with `entries` (sorted here) and `tombstones`; returns the vfs and result. */
export async function writeTable(
  entries: readonly ModelEntry[],
  tombstones: readonly ModelTombstone[] = [],
  options: Partial<TableBuilderOptions> = {},
  fileNumber = 7,
  vfs = new MemVfs(),
): Promise<{ vfs: MemVfs; path: string; name: string; built: BuiltTable }> {
  await vfs.mkdirp(TABLE_DIR)
  const name = tableName(fileNumber)
  const path = `${TABLE_DIR}/${name}`
  const file = await vfs.create(path)
  const builder = new TableBuilder(file, name, fileNumber, { ...DEFAULT_BUILDER_OPTIONS, ...options })
  const sorted = [...entries].sort(compareEntries)
  let t = 0
  for (const [i, e] of sorted.entries()) {
    builder.add(e.userKey, e.seqno, e.kind, e.value)
    if (t < tombstones.length && i % 3 === 1) { // tombstones may come in any order, interleaved
      const ts = tombstones[t++]!
      builder.addRangeTombstone(ts.start, ts.end, ts.seqno)
    }
  }
  for (; t < tombstones.length; t++) builder.addRangeTombstone(tombstones[t]!.start, tombstones[t]!.end, tombstones[t]!.seqno)
  const built = await builder.finish()
  return { vfs, path, name, built }
}

export async function openTable(vfs: MemVfs, path: string, fileNumber = 7, cache?: BlockCache): Promise<TableReader> {
  const file = await vfs.openReadable(path)
  const name = path.slice(path.lastIndexOf('/') + 1)
  return TableReader.open(file, name, fileNumber, cache)
}

/** Copies the current entry of `it`. */
export function entryOf(it: InternalIterator): ModelEntry {
  return { userKey: Buffer.from(it.key), seqno: it.seqno, kind: it.kind, value: Buffer.from(it.value) }
}

export function scanForward(it: InternalIterator): ModelEntry[] {
  const out: ModelEntry[] = []
  for (it.first(); it.valid; it.next()) out.push(entryOf(it))
  return out
}

export function scanBackward(it: InternalIterator): ModelEntry[] {
  const out: ModelEntry[] = []
  for (it.last(); it.valid; it.prev()) out.push(entryOf(it))
  return out
}

export function describe(e: ModelEntry | undefined): string {
  if (e === undefined) return 'end'
  return `${e.userKey.toString('hex')}#${e.seqno}/${e.kind}=${e.value.toString('hex').slice(0, 16)}`
}
