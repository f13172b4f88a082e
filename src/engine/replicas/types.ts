/**
 * The replication vocabulary the engine hands to the service (src/replication, routes): the
 * leader's state, a delta between two versions, a file being served, and a follower's position.
 * Plain data, JSON-friendly except the TableMeta keys (Buffers).
 */
import type { BlobMeta, TableMeta } from '../version/file-metadata.js'

export interface ReplicationState {
  treeId: string
  versionId: number
  /** The newest durable seqno (what reads see). */
  seqno: number
  /** The seqno the current Version's tables hold exactly: every write <= it, none above. */
  tablesSeqno: number
  tables: number
  blobFiles: number
  /** Random per open of the tree: a WAL stream from another epoch may have lost records. */
  epoch: string
  /** The newest seqno when this epoch began (everything <= it survived the restart). */
  epochStartSeqno: number
}

/**
 * What changed from version `from` to version `to` (composed edits, STYLE rule 9). Tables in
 * removeTables are named by id: a follower finds their level in the Version it holds (`from`).
 * A table both removed and added is a move between levels (its file is not fetched again).
 */
export interface ReplicationDelta {
  treeId: string
  from: number
  to: number
  /** The tables of `to` hold exactly the writes <= seqno. */
  seqno: number
  addTables: TableMeta[]
  removeTables: number[]
  addBlobFiles: BlobMeta[]
  removeBlobFiles: number[]
}

export interface LeasedDelta extends ReplicationDelta {
  /** Pins addTables/addBlobFiles on the leader; null when the delta adds no file. */
  leaseId: string | null
  leaseExpiresAtMs: number | null
}

export type ReplicationFileKind = 'table' | 'blob'

/** An immutable file opened for a follower; pinned on the leader until close(). */
export interface ReplicationFile {
  readonly kind: ReplicationFileKind
  readonly id: number
  readonly sizeBytes: number
  /** CRC-32C (unmasked) of the whole file, as recorded when it was written. */
  readonly checksum: number
  /** Exactly `length` bytes at `offset` (a buffer the caller owns). */
  readAt(offset: number, length: number): Buffer
  close(): Promise<void>
}

/** Where a follower stands. */
export interface FollowerPosition {
  treeId: string
  /** The leader versionId the follower's tables equal (undefined before the first install). */
  versionId: number | undefined
  /** The seqno reads see: max(tablesSeqno, walSeqno). */
  seqno: number
  tablesSeqno: number
  /** The newest WAL record applied (0 when none since the last reset). */
  walSeqno: number
  /** The leader epoch the applied WAL records came from, or null. */
  walEpoch: string | null
  memtableBytes: number
}
