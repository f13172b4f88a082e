/**
 * ReadView: the memtables and Version a read works on, captured together (mini-lsm's state
 * snapshot, RocksDB's SuperVersion). The tree swaps its view as one assignment whenever a
 * memtable rotates or a Version is installed, so a read never sees a memtable both flushed into
 * a table and still listed, or neither.
 */
import type { Memtable } from './memtable/memtable.js'
import type { Version } from './version/version.js'

export interface ReadView {
  readonly active: Memtable
  /** Immutable memtables waiting for flush, newest first. */
  readonly immutables: readonly Memtable[]
  readonly version: Version
}
