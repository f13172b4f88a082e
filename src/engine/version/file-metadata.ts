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
}

/** Seam for key/value separation (blob files); no blob files are written yet. */
export interface BlobMeta {
  id: number
  sizeBytes: number
  checksum: number
}
