/**
 * Replication options of a tree (TreeOptions.replication), resolved with their limits.
 */
import { checkRange } from '../options.js'
import { LEASE_TTL_MS_DEFAULT } from './leases.js'

/** Default edits held for deltas: a follower may fall this many versions behind. */
export const HISTORY_EDITS_DEFAULT = 4096
/** Default bound of a follower's WAL memtables: past it the WAL stream pauses until a delta. */
export const FOLLOWER_MEMTABLE_BYTES_DEFAULT = 256 * 1024 * 1024

export interface ReplicationOptions {
  /** Open as a read-only follower (replication/follower.ts): no WAL, no flush, no compaction. */
  follower?: boolean
  /** Leader: edits kept for deltas (1..1,000,000). */
  historyEdits?: number
  /** Leader: how long a delta's lease pins its files unless released (ms). */
  leaseTtlMs?: number
  /** Follower: bound of the memtables holding streamed WAL records. */
  memtableBytesMax?: number
}

export interface ResolvedReplicationOptions {
  follower: boolean
  historyEdits: number
  leaseTtlMs: number
  memtableBytesMax: number
}

export function resolveReplicationOptions(options: ReplicationOptions | undefined): ResolvedReplicationOptions {
  const o = options ?? {}
  return {
    follower: o.follower === true,
    historyEdits: checkRange('replication.historyEdits', o.historyEdits ?? HISTORY_EDITS_DEFAULT, 1, 1_000_000),
    leaseTtlMs: checkRange('replication.leaseTtlMs', o.leaseTtlMs ?? LEASE_TTL_MS_DEFAULT, 1, 24 * 3600 * 1000),
    memtableBytesMax: checkRange('replication.memtableBytesMax', o.memtableBytesMax ?? FOLLOWER_MEMTABLE_BYTES_DEFAULT, 4096, 2 ** 40),
  }
}
