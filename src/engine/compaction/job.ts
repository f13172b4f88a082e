/**
 * Background jobs as plain, structured-clonable data, and the one function that executes them.
 * The same `runJob` runs inside a worker thread (node Vfs) or inline on the main thread (any
 * Vfs, e.g. MemVfs in tests), so both paths are one code path.
 *
 * A job only writes new table files and returns their metadata. It never touches the manifest:
 * the main thread installs the VersionEdit (DESIGN.md: the main thread only installs edits).
 */
import type { RangeTombstone } from '../iterator/internal-iterator.js'
import { fragmentTombstones } from '../iterator/range-tombstones.js'
import { FragmentedTombstones } from '../iterator/range-tombstones.js'
import { MergingIterator } from '../iterator/merging-iterator.js'
import { resolveMergeOperator } from '../merge/builtins.js'
import type { MergeOperator } from '../merge/merge-operator.js'
import type { TableBuilderOptions } from '../sstable/table-builder.js'
import { TableReader } from '../sstable/table-reader.js'
import { tableFileName } from '../filenames.js'
import type { TableMeta } from '../version/file-metadata.js'
import type { Vfs } from '../vfs/vfs.js'
import { CompactionStream } from './compaction-stream.js'
import { loadCompactionFilter, type CompactionFilter, type CompactionFilterModule } from './compaction-filter.js'
import { decodeEntryStream } from './entry-stream.js'
import { TableOutput } from './table-output.js'

export interface JobCommon {
  dir: string
  builder: TableBuilderOptions
  tableBytes: number
  /** A built-in merge operator's name; custom operators force inline execution. */
  mergeOperatorName: string | null
  /** A compaction filter a worker can import; a filter object forces inline execution. */
  compactionFilter: CompactionFilterModule | null
}

export interface FlushJob extends JobCommon {
  type: 'flush'
  /** encodeEntryStream() of the memtable. */
  entries: Uint8Array
  tombstones: RangeTombstone[]
}

export interface CompactJob extends JobCommon {
  type: 'compact'
  inputs: { id: number; level: number }[]
  outputLevel: number
  bottommost: boolean
  snapshots: number[]
}

export type Job = FlushJob | CompactJob

export interface JobResult {
  tables: TableMeta[]
  bytesRead: number
}

export interface JobEnvironment {
  vfs: Vfs
  /** Allocates a fresh file number (the main thread owns the counter). */
  newFileNumber: () => number | Promise<number>
  /** Overrides the merge operator (inline execution with a custom operator). */
  mergeOperator?: MergeOperator | undefined
  /** Overrides the filter module (inline execution with a filter object). */
  compactionFilter?: CompactionFilter | undefined
}

async function filterFor(job: JobCommon, env: JobEnvironment): Promise<CompactionFilter | undefined> {
  if (env.compactionFilter !== undefined) return env.compactionFilter
  return job.compactionFilter === null ? undefined : loadCompactionFilter(job.compactionFilter)
}

function operatorFor(job: JobCommon, env: JobEnvironment): MergeOperator | undefined {
  if (env.mergeOperator !== undefined) return env.mergeOperator
  return job.mergeOperatorName === null ? undefined : resolveMergeOperator(job.mergeOperatorName)
}

export async function runJob(job: Job, env: JobEnvironment): Promise<JobResult> {
  return job.type === 'flush' ? runFlush(job, env) : runCompaction(job, env)
}

async function runFlush(job: FlushJob, env: JobEnvironment): Promise<JobResult> {
  const output = new TableOutput(
    { vfs: env.vfs, dir: job.dir, level: 0, targetBytes: Number.POSITIVE_INFINITY, builder: job.builder, newFileNumber: env.newFileNumber },
    fragmentTombstones(job.tombstones.map((t) => ({ start: Buffer.from(t.start), end: Buffer.from(t.end), seqno: t.seqno }))),
  )
  const it = decodeEntryStream(job.entries)
  try {
    for (it.first(); it.valid; it.next()) await output.add(it.key, it.seqno, it.kind, it.value)
    return { tables: await output.finish(), bytesRead: 0 }
  } catch (error) {
    await output.abort()
    throw error
  } finally {
    it.close()
  }
}

async function runCompaction(job: CompactJob, env: JobEnvironment): Promise<JobResult> {
  const readers: TableReader[] = []
  const filter = await filterFor(job, env)
  try {
    for (const input of job.inputs) {
      const name = tableFileName(input.id)
      const file = await env.vfs.openReadable(`${job.dir}/${name}`)
      try {
        readers.push(TableReader.open(file, name, input.id))
      } catch (error) {
        await file.close()
        throw error
      }
    }
    const stream = new CompactionStream({
      snapshots: job.snapshots,
      bottommost: job.bottommost,
      mergeOperator: operatorFor(job, env),
      tombstones: FragmentedTombstones.from(readers.flatMap((r) => [...r.rangeTombstones])),
      filter: filter === undefined ? undefined : { filter, outputLevel: job.outputLevel },
    })
    const output = new TableOutput(
      {
        vfs: env.vfs,
        dir: job.dir,
        level: job.outputLevel,
        // Level 0 holds overlapping tables ordered by seqno: an output there must be ONE table,
        // or a key's versions could be split across two and read in the wrong order.
        targetBytes: job.outputLevel === 0 ? Number.POSITIVE_INFINITY : job.tableBytes,
        builder: job.builder,
        newFileNumber: env.newFileNumber,
      },
      stream.outputTombstones(),
    )
    const merged = new MergingIterator(readers.map((r) => r.newIterator()))
    try {
      for (const e of stream.entries(merged)) await output.add(e.key, e.seqno, e.kind, e.value)
      const tables = await output.finish()
      return { tables, bytesRead: readers.reduce((n, r) => n + r.properties.rawKeyBytes + r.properties.rawValueBytes, 0) }
    } catch (error) {
      await output.abort()
      throw error
    } finally {
      merged.close()
    }
  } finally {
    for (const r of readers) await r.close()
  }
}

/** Structured clone turns Buffers into Uint8Arrays; this restores Buffers in returned metadata. */
export function reviveTableMeta(meta: TableMeta): TableMeta {
  const asBuffer = (u: Uint8Array) => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength))
  return { ...meta, smallestKey: asBuffer(meta.smallestKey), largestKey: asBuffer(meta.largestKey) }
}
