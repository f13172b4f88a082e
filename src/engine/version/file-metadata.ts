/**
 * Metadata of the immutable files a Version references. Persisted in VersionEdits (manifest)
 * and shipped in replication deltas.
 */
export interface TableMeta {
  /** File number: the table lives in `<tree>/<id padded to 6>.sst`. Unique per tree. */
  id: number
  level: number
  sizeBytes: number
  /** CRC-32C (unmasked) of the whole file, for replication ETags and verification. */
  checksum: number
  /** Smallest user key of any point entry or range tombstone start (inclusive). */
  smallestKey: Buffer
  /** Largest user key of any point entry, or range tombstone end (treated as inclusive). */
  largestKey: Buffer
  smallestSeqno: number
  largestSeqno: number
  /** Point entries (all kinds). */
  entries: number
  rangeTombstones: number
  /**
   * Wall-clock time the table file was written (ms since the Unix epoch), for FIFO's age cap.
   * Absent means unknown (0): tables recorded before this field existed, or by a producer
   * that does not stamp it. Persisted by the optional edit tag TableCreatedAt (version-edit.ts).
   */
  createdAtMs?: number
}

/** A table's creation time, 0 when unknown (see TableMeta.createdAtMs). */
export function tableCreatedAtMs(table: TableMeta): number {
  return table.createdAtMs ?? 0
}

/** Seam for key/value separation (blob files); no blob files are written yet. */
export interface BlobMeta {
  id: number
  sizeBytes: number
  checksum: number
}
