/**
 * Strata's engine: the only public door (STYLE rule 2). Nothing outside src/engine imports any
 * other engine file.
 */
export { Tree } from './tree.js'
export type { ReadOptions, IteratorOptions } from './tree.js'
export type { TreeIterator, Entry } from './iterator/user-iterator.js'
export type { WriteBatch, KeyInput } from './write-batch.js'
export type { Snapshot } from './snapshots.js'
export type { TreeStats, LevelStats } from './tree-stats.js'
export type { CheckpointResult } from './checkpoint.js'
export type { ReplicationSource } from './replicas/leader-source.js'
export { DELTA_WAIT_MS_MAX } from './replicas/leader-source.js'
export type { Replica, WalApplyResult } from './replicas/follower.js'
export { REPLICA_STAGING_DIR_NAME } from './replicas/follower-open.js'
export type { ReplicationOptions } from './replicas/options.js'
export type {
  ReplicationState,
  ReplicationDelta,
  LeasedDelta,
  ReplicationFile,
  ReplicationFileKind,
  FollowerPosition,
} from './replicas/types.js'
export type { WalRecord } from './replicas/wal-feed.js'
export type { TableMeta, BlobMeta } from './version/file-metadata.js'
export { crc32cUpdate } from './base/crc32c.js'
export { tableFileName } from './filenames.js'
export { resetTreeId } from './tree-id.js'
export type { ResetTreeIdResult } from './tree-id.js'
export type { TreeOptions, SyncPolicy, CompressionName } from './options.js'
export { KEY_BYTES_MAX, VALUE_BYTES_MAX } from './options.js'
export { StrataError, ErrorCode, isStrataError, isCorruption } from './errors.js'
export type { MergeOperator, ValueMerger } from './merge/merge-operator.js'
export type {
  CompactionFilter,
  CompactionFilterModule,
  CompactionFilterContext,
  CompactionFilterDecision,
} from './compaction/compaction-filter.js'
export { counterOperator, appendOperator, maxOperator, builtinMergeOperators } from './merge/builtins.js'
export type { Vfs, ReadableFile, WritableFile, FileLock, FileStat } from './vfs/vfs.js'
export { NodeVfs, nodeVfs } from './vfs/node-vfs.js'
export { MemVfs } from './vfs/mem-vfs.js'
export { FaultVfs } from './vfs/fault-vfs.js'
export {
  Catalog,
  isValidTreeName,
  TREE_NAME_PATTERN,
  validateCatalogTreeOptions,
  decodeTreeOptionsFile,
  encodeTreeOptionsFile,
  TREE_OPTIONS_FILE_NAME,
  TREE_OPTIONS_FILE_BYTES_MAX,
  RESTORING_PREFIX,
  CHECKPOINTS_DIR_NAME,
} from './catalog.js'
export type {
  CatalogTreeOptions,
  CatalogDefaults,
  CatalogOpenOptions,
  CatalogEntry,
  CatalogFailure,
  MergeOperatorName,
} from './catalog.js'
