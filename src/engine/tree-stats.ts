/**
 * tree.stats(): a plain, JSON-serialisable picture of a tree's state.
 */
import type { ResolvedOptions } from './options.js'
import { LEVEL_COUNT } from './options.js'
import type { ReadView } from './read-view.js'
import type { StrataError } from './errors.js'
import type { HandleCacheStats } from './cache/handle-cache.js'

export interface LevelStats {
  level: number
  tables: number
  bytes: number
}

export interface TreeStats {
  treeId: string
  seqno: number
  versionId: number
  levels: LevelStats[]
  tables: number
  blobFiles: number
  diskBytes: number
  memtableBytes: number
  immutableMemtables: number
  snapshots: number
  openTables: number
  cache: { capacityBytes: number; usedBytes: number; hits: number; misses: number; evictions: number }
  /** File descriptors of tables held open (bounded by maxOpenTables) and reopens after eviction. */
  tableHandles: HandleCacheStats
  flushes: number
  compactions: number
  bytesFlushed: number
  bytesCompacted: number
  droppedWalTailBytes: number
  /** Obsolete files that could not be removed (they are retried at the next open). */
  cleanupErrors: number
  /** Bytes compaction still has to rewrite to bring every level to its target (RocksDB's estimate). */
  pendingCompactionBytes: number
  /** Background jobs (flushes, compactions) running now. */
  runningJobs: number
  /** Bytes written to tables by flushes and compactions per byte flushed (RocksDB's W-Amp). */
  writeAmplification: number
  /** Trivial moves among `compactions`. */
  trivialMoves: number
  /** Commit groups that were slowed down or stopped by a write stall. */
  writeStalls: number
  compactionStrategy: string
  /** Group commit since open: WAL appends (groups), writes in them, fsyncs they waited for. */
  commits: { groups: number; batches: number; walSyncs: number }
  backgroundError: { code: string; message: string } | null
  options: { sync: string; compression: string; mergeOperator: string | null; memtableBytes: number; blockBytes: number; tableBytes: number; filterBitsPerKey: number; blockCacheBytes: number }
}

export interface StatsInput {
  treeId: string
  seqno: number
  versionId: number
  view: ReadView
  snapshots: number
  openTables: number
  blockCache: TreeStats['cache']
  tableHandles: HandleCacheStats
  counters: { flushes: number; compactions: number; bytesFlushed: number; bytesCompacted: number; droppedTailBytes: number; cleanupErrors: number; stalls: number; trivialMoves: number }
  pendingCompactionBytes: number
  runningJobs: number
  /** The commit pipeline's counters (zeros on a follower, which commits nothing itself). */
  commits: TreeStats['commits']
  backgroundError: StrataError | undefined
  options: ResolvedOptions
}

export function buildStats(input: StatsInput): TreeStats {
  const levels: LevelStats[] = []
  let tables = 0
  let diskBytes = 0
  for (let level = 0; level < LEVEL_COUNT; level++) {
    const files = input.view.version.levels[level] ?? []
    const bytes = files.reduce((n, t) => n + t.sizeBytes, 0)
    levels.push({ level, tables: files.length, bytes })
    tables += files.length
    diskBytes += bytes
  }
  const o = input.options
  return {
    treeId: input.treeId,
    seqno: input.seqno,
    versionId: input.versionId,
    levels,
    tables,
    blobFiles: 0,
    diskBytes,
    memtableBytes: input.view.active.approximateBytes + input.view.immutables.reduce((n, m) => n + m.approximateBytes, 0),
    immutableMemtables: input.view.immutables.length,
    snapshots: input.snapshots,
    openTables: input.openTables,
    cache: input.blockCache,
    tableHandles: input.tableHandles,
    flushes: input.counters.flushes,
    compactions: input.counters.compactions,
    bytesFlushed: input.counters.bytesFlushed,
    bytesCompacted: input.counters.bytesCompacted,
    droppedWalTailBytes: input.counters.droppedTailBytes,
    cleanupErrors: input.counters.cleanupErrors,
    pendingCompactionBytes: input.pendingCompactionBytes,
    runningJobs: input.runningJobs,
    writeAmplification: input.counters.bytesFlushed === 0 ? 0 : (input.counters.bytesFlushed + input.counters.bytesCompacted) / input.counters.bytesFlushed,
    trivialMoves: input.counters.trivialMoves,
    writeStalls: input.counters.stalls,
    compactionStrategy: input.options.compaction.strategy,
    commits: { ...input.commits },
    backgroundError: input.backgroundError ? { code: input.backgroundError.code, message: input.backgroundError.message } : null,
    options: {
      sync: o.sync,
      compression: o.compression,
      mergeOperator: o.mergeOperator?.name ?? null,
      memtableBytes: o.memtableBytes,
      blockBytes: o.blockBytes,
      tableBytes: o.tableBytes,
      filterBitsPerKey: o.filterBitsPerKey,
      blockCacheBytes: o.blockCacheBytes,
    },
  }
}
