/**
 * Replication leases (leader side): a delta's added files stay on disk until the follower that
 * asked for it has downloaded them, even if compaction obsoletes them meanwhile. A lease pins
 * tables through FileReferences.pinTables and ends on release or when its time runs out.
 *
 * Invariants:
 * - At most LEASES_MAX leases live at once; one more is refused (TOO_MANY_LEASES): a client
 *   looping on deltas without releasing cannot pin the whole disk (etcd/Kvrocks' pinned
 *   snapshots grow without bound).
 * - Every lease ends exactly once: release(), expiry, or closeAll(); each unpins its files once.
 * - Expiry timers are unref'd: a lease never keeps the process alive.
 */
import { assert } from '../base/assert.js'
import { StrataError, ErrorCode } from '../errors.js'
import type { BlobMeta, TableMeta } from '../version/file-metadata.js'

/** Live leases per tree: far more than followers a leader serves; bounds pinned disk. */
export const LEASES_MAX = 1024
/** API.md: a delta's lease lasts 60 s unless released. */
export const LEASE_TTL_MS_DEFAULT = 60_000

export interface Lease {
  readonly id: string
  readonly expiresAtMs: number
  readonly tables: readonly TableMeta[]
  readonly blobFiles: readonly BlobMeta[]
}

interface LiveLease extends Lease {
  unpin: () => void
  timer: NodeJS.Timeout
}

export interface LeaseTableOptions {
  /** Pins table ids; the returned function unpins them (idempotent). */
  pinTables: (ids: readonly number[]) => () => void
  ttlMs: number
  now?: () => number
  newId: () => string
}

export class LeaseTable {
  readonly #live = new Map<string, LiveLease>()
  readonly #options: LeaseTableOptions
  #closed = false

  constructor(options: LeaseTableOptions) {
    assert(Number.isSafeInteger(options.ttlMs) && options.ttlMs > 0, 'lease ttl is a positive integer')
    this.#options = options
  }

  get size(): number {
    return this.#live.size
  }

  /** Pins `tables` (and records `blobFiles`) until release or expiry. Synchronous: the caller
   *  pins files that are live right now, before anything can obsolete them. */
  create(tables: readonly TableMeta[], blobFiles: readonly BlobMeta[], ttlMs = this.#options.ttlMs): Lease {
    assert(Number.isSafeInteger(ttlMs) && ttlMs > 0, 'lease ttl is a positive integer')
    if (this.#closed) throw new StrataError(ErrorCode.CLOSED, 'the tree is closed')
    if (this.#live.size >= LEASES_MAX) {
      throw new StrataError(ErrorCode.TOO_MANY_LEASES, `at most ${LEASES_MAX} replication leases may be live; release some or wait for them to expire`)
    }
    const now = this.#options.now?.() ?? Date.now()
    const id = this.#options.newId()
    assert(!this.#live.has(id), 'lease ids are unique')
    const unpin = this.#options.pinTables(tables.map((t) => t.id))
    const timer = setTimeout(() => this.release(id), ttlMs)
    timer.unref()
    const lease: LiveLease = { id, expiresAtMs: now + ttlMs, tables, blobFiles, unpin, timer }
    this.#live.set(id, lease)
    return lease
  }

  /** Ends the lease; false when it is unknown (never made, released or expired). */
  release(id: string): boolean {
    const lease = this.#live.get(id)
    if (lease === undefined) return false
    this.#live.delete(id)
    clearTimeout(lease.timer)
    lease.unpin()
    return true
  }

  /** The metadata of a table some live lease pins, or undefined. */
  leasedTable(id: number): TableMeta | undefined {
    for (const lease of this.#live.values()) {
      const table = lease.tables.find((t) => t.id === id)
      if (table !== undefined) return table
    }
    return undefined
  }

  leasedBlobFile(id: number): BlobMeta | undefined {
    for (const lease of this.#live.values()) {
      const blob = lease.blobFiles.find((b) => b.id === id)
      if (blob !== undefined) return blob
    }
    return undefined
  }

  /** Ends every lease (tree close). Idempotent. */
  closeAll(): void {
    this.#closed = true
    for (const id of [...this.#live.keys()]) this.release(id)
  }
}
