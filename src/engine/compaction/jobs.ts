/**
 * The two jobs that write tables: flushing a memtable to level 0, and compacting tables into a
 * level. Both only write files and return their metadata; installing the resulting VersionEdit
 * is the caller's business (STYLE rule 9: decide purely, act separately).
 */
import type { OpenTable } from '../cache/table-cache.js'
import type { InternalIterator } from '../iterator/internal-iterator.js'
import { MergingIterator } from '../iterator/merging-iterator.js'
import { FragmentedTombstones, fragmentTombstones } from '../iterator/range-tombstones.js'
import type { Memtable } from '../memtable/memtable.js'
import type { MergeOperator } from '../merge/merge-operator.js'
import type { TableBuilderOptions } from '../sstable/table-builder.js'
import type { TableMeta } from '../version/file-metadata.js'
import type { Vfs } from '../vfs/vfs.js'
import { CompactionStream } from './compaction-stream.js'
import { TableOutput } from './table-output.js'

export interface JobContext {
  vfs: Vfs
  dir: string
  builder: TableBuilderOptions
  tableBytes: number
  newFileNumber: () => number
  mergeOperator: MergeOperator | undefined
}

/** Writes every entry and tombstone of `mem` to one level-0 table; undefined if it is empty. */
export async function flushMemtable(ctx: JobContext, mem: Memtable): Promise<TableMeta | undefined> {
  if (mem.isEmpty) return undefined
  const output = new TableOutput(
    { vfs: ctx.vfs, dir: ctx.dir, level: 0, targetBytes: Number.POSITIVE_INFINITY, builder: ctx.builder, newFileNumber: ctx.newFileNumber },
    fragmentTombstones(mem.rangeTombstones()),
  )
  const it = mem.newIterator()
  try {
    for (it.first(); it.valid; it.next()) await output.add(it.key, it.seqno, it.kind, it.value)
    const tables = await output.finish()
    return tables[0]
  } catch (error) {
    await output.abort()
    throw error
  } finally {
    it.close()
  }
}

export interface CompactionInput {
  tables: readonly OpenTable[]
  outputLevel: number
  bottommost: boolean
  snapshots: readonly number[]
}

/** Merges `inputs` through the MVCC stream into tables at `outputLevel`. */
export async function compactTables(ctx: JobContext, input: CompactionInput): Promise<TableMeta[]> {
  const children: InternalIterator[] = input.tables.map((t) => t.reader.newIterator())
  const merged = new MergingIterator(children)
  const stream = new CompactionStream({
    snapshots: input.snapshots,
    bottommost: input.bottommost,
    mergeOperator: ctx.mergeOperator,
    tombstones: FragmentedTombstones.from(input.tables.flatMap((t) => [...t.reader.rangeTombstones])),
  })
  const output = new TableOutput(
    { vfs: ctx.vfs, dir: ctx.dir, level: input.outputLevel, targetBytes: ctx.tableBytes, builder: ctx.builder, newFileNumber: ctx.newFileNumber },
    stream.outputTombstones(),
  )
  try {
    for (const e of stream.entries(merged)) await output.add(e.key, e.seqno, e.kind, e.value)
    return await output.finish()
  } catch (error) {
    await output.abort()
    throw error
  } finally {
    merged.close()
  }
}
