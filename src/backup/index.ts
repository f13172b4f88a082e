/**
 * src/backup: checkpoints streamed as tar(.zst) archives with BACKUP.json first, named
 * checkpoints, and the hardened restore (docs/backup.md). The HTTP routes, the CLI and the
 * replication follower use this door only.
 */
export {
  BACKUP_FORMAT_VERSION,
  BACKUP_MANIFEST_NAME,
  BACKUP_MANIFEST_BYTES_MAX,
  BACKUP_FILES_MAX,
  BACKUP_FILE_BYTES_MAX,
  encodeBackupManifest,
  parseBackupManifest,
} from './backup-manifest.js'
export type { BackupFile, BackupManifest } from './backup-manifest.js'
export { InvalidArchiveError, isInvalidArchive } from './errors.js'
export { archiveStream, archivedBytes, describeCheckpoint, releaseWrittenChunks } from './archive-stream.js'
export { ChunkPool } from './chunk-pool.js'
export { TAR_CHUNK_BYTES } from './tar-writer.js'
export type { CheckpointDescription, Compression } from './archive-stream.js'
export { extractArchive, verifyArchive } from './extract.js'
export type { ExtractOptions, ExtractResult } from './extract.js'
export { restoreArchive, RESTORE_BYTES_MAX_DEFAULT } from './restore.js'
export type { RestoreOptions, RestoreResult } from './restore.js'
export { clearHashCache } from './file-hash.js'
export { ZSTD_MAGIC } from './zstd-stream.js'
export { CheckpointStore, CHECKPOINT_ID_PATTERN, NAMED_CHECKPOINTS_PER_TREE_MAX, TooManyCheckpointsError } from './named-checkpoints.js'
export type { CheckpointLease, CheckpointUsage, NamedCheckpoint } from './named-checkpoints.js'
