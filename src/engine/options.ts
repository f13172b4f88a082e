/**
 * Tree options, their defaults, and every named limit of the engine. Each limit carries a
 * one-line reason (TigerStyle: put a limit on everything).
 */
import { StrataError, ErrorCode } from './errors.js'
import type { MergeOperator } from './merge/merge-operator.js'
import type { CompactionOptions, CompactionStrategyName } from './compaction/picker.js'
import type { Vfs } from './vfs/vfs.js'
import type { CompactionFilter, CompactionFilterModule } from './compaction/compaction-filter.js'
import type { ReplicationOptions, ResolvedReplicationOptions } from './replicas/options.js'

/** Keys are 1..65,535 bytes: every format stores key lengths that fit a u16. */
export { KEY_BYTES_MAX } from './base/internal-key.js'
/** Values up to 256 MiB: a value must fit one block and one WAL record in memory. */
export const VALUE_BYTES_MAX = 256 * 1024 * 1024
/** Ops per WriteBatch: bounds a WAL record and the memory one commit pins. */
export const BATCH_OPS_MAX = 1_000_000
/** Levels 0..6, as in LevelDB and RocksDB; major compaction writes to the last one. */
export const LEVEL_COUNT = 7
/** A block's uncompressed size is bounded so a corrupt length cannot make us allocate GBs. */
export const BLOCK_RAW_BYTES_MAX = 512 * 1024 * 1024
/** Manifest is rewritten as a fresh snapshot once it grows past this. */
export const MANIFEST_ROLLOVER_BYTES = 4 * 1024 * 1024

export type SyncPolicy = 'always' | 'none'
export type CompressionName = 'none' | 'zstd'

export interface TreeOptions {
  /** File system seam; defaults to the node implementation. */
  vfs?: Vfs
  /** 'always' (default): a write resolves once fsynced. 'none': once handed to the OS. */
  sync?: SyncPolicy
  /** Merge operator: a built-in name ('counter', 'append', 'max') or an implementation. */
  mergeOperator?: string | MergeOperator
  /** Block compression for new tables. */
  compression?: CompressionName
  /** zstd level, 1..19. */
  zstdLevel?: number
  /** The active memtable rotates to an immutable one past this many bytes. */
  memtableBytes?: number
  /** Uncompressed data block target. */
  blockBytes?: number
  /** Table files are cut past this size in compaction output. */
  tableBytes?: number
  /** Bloom filter bits per key; 0 disables filters. */
  filterBitsPerKey?: number
  /** Byte budget of the block cache. */
  blockCacheBytes?: number
  /** Create the tree if it does not exist (default true). */
  createIfMissing?: boolean
  /** Worker threads for flush and compaction; 0 runs them on the main thread. Workers are used
   *  only with the node Vfs and a built-in merge operator. */
  backgroundThreads?: number
  /** Background compaction: a strategy name, or options (see compaction/picker.ts). */
  compaction?: CompactionStrategyName | (Partial<Omit<CompactionOptions, 'tiered' | 'fifo'>> & {
    tiered?: Partial<CompactionOptions['tiered']>
    fifo?: Partial<CompactionOptions['fifo']>
  })
  /** Immutable memtables allowed to wait for flush before writes stop (memory bound). */
  immutableMemtablesMax?: number
  /** Drops or rewrites values during compaction (compaction/compaction-filter.ts). A filter
   *  object runs compactions on the main thread; a module spec runs in the workers. */
  compactionFilter?: CompactionFilter | CompactionFilterModule
  /** Table files kept open at once (a handle cache reopens the others on demand). */
  maxOpenTables?: number
  /** Leader history and leases, or follower mode (replicas/options.ts). */
  replication?: ReplicationOptions
}

export interface ResolvedOptions {
  vfs: Vfs
  sync: SyncPolicy
  mergeOperator: MergeOperator | undefined
  compression: CompressionName
  zstdLevel: number
  memtableBytes: number
  blockBytes: number
  tableBytes: number
  filterBitsPerKey: number
  blockCacheBytes: number
  createIfMissing: boolean
  backgroundThreads: number
  compaction: CompactionOptions
  immutableMemtablesMax: number
  compactionFilter: CompactionFilter | CompactionFilterModule | undefined
  maxOpenTables: number
  replication: ResolvedReplicationOptions
}

export const DEFAULTS = {
  sync: 'always',
  compression: 'none',
  zstdLevel: 3,
  memtableBytes: 64 * 1024 * 1024,
  blockBytes: 4096,
  tableBytes: 64 * 1024 * 1024,
  filterBitsPerKey: 10,
  blockCacheBytes: 64 * 1024 * 1024,
  createIfMissing: true,
  backgroundThreads: 1,
  immutableMemtablesMax: 2,
  // LevelDB's max_open_files default: well under the usual 1,024 descriptor soft limit even
  // with a few trees open, and enough that a 64 GiB tree of 64 MiB tables never reopens.
  maxOpenTables: 1000,
} as const

export function checkRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new StrataError(ErrorCode.INVALID_ARGUMENT, `option ${name} must be an integer in [${min}, ${max}]`)
  }
  return value
}
