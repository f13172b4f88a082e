/**
 * ReplicationSource (leader side): everything a tree offers its followers (API.md,
 * Replication): its state, deltas composed from the bounded edit history (EditHistory,
 * composeEdits), leases that pin the files a delta adds, long-polls for a newer version, the
 * immutable files themselves, and the committed WAL records (WalFeed).
 *
 * The edit history is seeded at open from the manifest's edits (VersionSet.recoveredEdits), so
 * a restarted leader still answers deltas from any version its manifest holds: a restart does
 * not send every follower back to a full bootstrap (the Kvrocks/Redis full-sync loops).
 *
 * Invariants:
 * - delta(since) is exactly composeEdits(edits since..current); every table it adds is in the
 *   current Version at that moment and is pinned (synchronously) before anything can obsolete it.
 * - A file is served only while the current Version or a live lease references it, and it is
 *   pinned for as long as it is open.
 */
import { randomUUID } from 'node:crypto'

import { assert } from '../base/assert.js'
import { StrataError, ErrorCode, invalidArgument } from '../errors.js'
import { blobFileName, pathInDir, tableFileName } from '../filenames.js'
import { composeEdits } from '../version/compose.js'
import { EditHistory } from '../version/edit-history.js'
import type { BlobMeta, TableMeta } from '../version/file-metadata.js'
import type { VersionEdit } from '../version/version-edit.js'
import type { Version } from '../version/version.js'
import type { Vfs } from '../vfs/vfs.js'
import { LeaseTable } from './leases.js'
import type { LeasedDelta, ReplicationDelta, ReplicationFile, ReplicationFileKind, ReplicationState } from './types.js'
import { WAL_BATCH_BYTES_MAX, WalFeed, readWalFiles, walGone, type WalRecord } from './wal-feed.js'
import { readFixed64 } from '../base/coding.js'

/** API.md: a long-poll waits at most 30 s. */
export const DELTA_WAIT_MS_MAX = 30_000

export interface ReplicationSourceOptions {
  historyEdits: number
  leaseTtlMs: number
}

export interface LeaderHost {
  readonly vfs: Vfs
  readonly dir: string
  readonly treeId: string
  current(): Version
  /** versions.lastSeqno: what the current Version's tables hold exactly. */
  tablesSeqno(): number
  /** The newest durable seqno. */
  seqno(): number
  pinTables(ids: readonly number[]): () => void
}

export class ReplicationSource {
  readonly epoch = randomUUID()
  readonly epochStartSeqno: number
  readonly #host: LeaderHost
  readonly #history: EditHistory
  readonly #leases: LeaseTable
  readonly #feed: WalFeed
  #versionWaiters: (() => void)[] = []
  #closed = false

  /** `recovered`: the manifest's edits after its snapshot, ending at the current version. */
  constructor(host: LeaderHost, options: ReplicationSourceOptions, recovered: readonly VersionEdit[]) {
    this.#host = host
    const current = host.current().id
    let held = recovered.slice(-options.historyEdits)
    let base = current - held.length
    // A manifest whose edits do not lead here one by one (never written by this build) only
    // costs its followers a bootstrap: start the history at the current version.
    if (!held.every((e, i) => e.versionId === base + i + 1)) {
      held = []
      base = current
    }
    this.#history = new EditHistory(options.historyEdits, base)
    held.forEach((e) => this.#history.record(e.versionId!, e))
    this.#leases = new LeaseTable({ pinTables: (ids) => host.pinTables(ids), ttlMs: options.leaseTtlMs, newId: randomUUID })
    this.epochStartSeqno = host.seqno()
    this.#feed = new WalFeed()
  }

  /** VersionSet.onInstall: every installed edit enters the history. */
  recordEdit(version: Version, edit: VersionEdit): void {
    this.#history.record(version.id, edit)
    for (const w of this.#versionWaiters.splice(0)) w()
  }

  /** CommitHost.onDurable: a durable commit group. */
  recordDurable(records: readonly Buffer[]): void {
    this.#feed.push(records)
  }

  state(): ReplicationState {
    const version = this.#host.current()
    return {
      treeId: this.#host.treeId,
      versionId: version.id,
      seqno: this.#host.seqno(),
      tablesSeqno: this.#host.tablesSeqno(),
      tables: version.tableCount(),
      blobFiles: version.blobFiles.length,
      epoch: this.epoch,
      epochStartSeqno: this.epochStartSeqno,
    }
  }

  /** Edits the history holds: deltas are served from versions oldestVersionId..current. */
  get oldestVersionId(): number {
    return this.#history.oldestVersionId
  }

  /**
   * The delta from `since` to the current version, its added files leased (for `leaseTtlMs`,
   * default the tree's option) when `lease` is true and it adds any. VERSION_GONE when `since`
   * is older than the history or newer than the current version. Synchronous: the delta and
   * its pins describe one instant.
   */
  delta(since: number, lease: boolean, leaseTtlMs?: number): LeasedDelta {
    this.#checkOpen()
    const version = this.#host.current()
    const edits = this.#history.since(since)
    if (edits === undefined) {
      throw new StrataError(
        ErrorCode.VERSION_GONE,
        `version ${since} cannot be served (deltas start at version ${this.#history.oldestVersionId}, the current one is ${version.id}); bootstrap from a checkpoint`,
      )
    }
    assert(this.#history.newestVersionId === version.id, 'the history ends at the current version')
    const composed = composeEdits(edits)
    const present = new Set(version.allTables().map((t) => t.id))
    for (const t of composed.addTables) assert(present.has(t.id), `added table ${t.id} is in the current version`)
    const delta: ReplicationDelta = {
      treeId: this.#host.treeId,
      from: since,
      to: version.id,
      seqno: this.#host.tablesSeqno(),
      addTables: composed.addTables,
      removeTables: composed.removeTables.map((r) => r.id),
      addBlobFiles: composed.addBlobFiles,
      removeBlobFiles: composed.removeBlobFiles,
    }
    const adds = delta.addTables.length + delta.addBlobFiles.length
    if (!lease || adds === 0) return { ...delta, leaseId: null, leaseExpiresAtMs: null }
    const leased = this.#leases.create(delta.addTables, delta.addBlobFiles, leaseTtlMs)
    return { ...delta, leaseId: leased.id, leaseExpiresAtMs: leased.expiresAtMs }
  }

  releaseLease(leaseId: string): boolean {
    return this.#leases.release(leaseId)
  }

  get leaseCount(): number {
    return this.#leases.size
  }

  /**
   * Resolves true as soon as the current version is newer than `since`, false after
   * `timeoutMs` (at most DELTA_WAIT_MS_MAX), when `signal` aborts, or when the tree closes.
   */
  waitForVersion(since: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > DELTA_WAIT_MS_MAX) {
      return Promise.reject(invalidArgument(`wait must be an integer in [0, ${DELTA_WAIT_MS_MAX}] ms`))
    }
    if (this.#host.current().id > since) return Promise.resolve(true)
    if (timeoutMs === 0 || this.#closed || signal?.aborted === true) return Promise.resolve(false)
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', finish)
        const i = this.#versionWaiters.indexOf(wake)
        if (i >= 0) this.#versionWaiters.splice(i, 1)
        resolve(this.#host.current().id > since)
      }
      const wake = () => finish()
      // Ref'd: a caller awaiting the long-poll keeps the process alive (at most 30 s).
      const timer = setTimeout(finish, timeoutMs)
      signal?.addEventListener('abort', finish, { once: true })
      this.#versionWaiters.push(wake)
    })
  }

  /** Opens a table or blob file the current Version or a live lease references (NOT_FOUND else). */
  async openFile(kind: ReplicationFileKind, id: number): Promise<ReplicationFile> {
    this.#checkOpen()
    if (!Number.isSafeInteger(id) || id < 1) throw new StrataError(ErrorCode.NOT_FOUND, `no ${kind} file ${id}`)
    const meta = kind === 'table' ? this.#findTable(id) : this.#findBlob(id)
    if (meta === undefined) throw new StrataError(ErrorCode.NOT_FOUND, `no live ${kind} file ${id}`)
    // Blob files are not written yet (BlobMeta is a seam), so only tables are pinned by id.
    const unpin = kind === 'table' ? this.#host.pinTables([id]) : () => undefined
    const name = kind === 'table' ? tableFileName(id) : blobFileName(id)
    let file
    try {
      file = await this.#host.vfs.openReadable(pathInDir(this.#host.dir, name))
    } catch (error) {
      unpin()
      throw error
    }
    if (file.sizeBytes !== meta.sizeBytes) {
      unpin()
      await file.close()
      throw new StrataError(ErrorCode.CORRUPTION, `${name} is ${file.sizeBytes} bytes, the manifest says ${meta.sizeBytes}`, { file: name })
    }
    const opened = file
    return {
      kind,
      id,
      sizeBytes: meta.sizeBytes,
      checksum: meta.checksum,
      readAt: (offset, length) => opened.readAt(offset, length),
      close: async () => {
        try {
          await opened.close()
        } finally {
          unpin()
        }
      },
    }
  }

  #findTable(id: number): TableMeta | undefined {
    return this.#host.current().allTables().find((t) => t.id === id) ?? this.#leases.leasedTable(id)
  }

  #findBlob(id: number): BlobMeta | undefined {
    return this.#host.current().blobFiles.find((b) => b.id === id) ?? this.#leases.leasedBlobFile(id)
  }

  /**
   * The durable WAL records after `since`, then new ones as they commit (WalFeed). Throws
   * WAL_GONE when the records after `since` are not retained, INVALID_ARGUMENT when `since`
   * is ahead of the newest seqno.
   */
  walRecords(since: number, signal?: AbortSignal): AsyncGenerator<WalRecord> {
    return flatten(this.walBatches(since, signal))
  }

  /**
   * walRecords in batches: each holds the consecutive records available at that moment (a
   * commit burst, or a stretch of a WAL file while catching up), at most `maxBytes` of them
   * (but at least one record). Checks its arguments synchronously, like walRecords.
   */
  walBatches(since: number, signal?: AbortSignal, maxBytes = WAL_BATCH_BYTES_MAX): AsyncGenerator<WalRecord[]> {
    this.#checkOpen()
    if (!Number.isSafeInteger(since) || since < 0) throw invalidArgument('since must be a non-negative integer')
    const durable = this.#host.seqno()
    if (since > durable) throw invalidArgument(`seqno ${since} is ahead of the newest seqno ${durable}`)
    // Subscribe in the same synchronous step as reading `durable` (see wal-feed.ts).
    const subscription = this.#feed.subscribe()
    return this.#stream(since + 1, durable, subscription, signal, maxBytes)
  }

  async *#stream(from: number, durable: number, subscription: ReturnType<WalFeed['subscribe']>, signal: AbortSignal | undefined, maxBytes: number): AsyncGenerator<WalRecord[]> {
    let next = from
    try {
      if (next <= durable) {
        let batch: WalRecord[] = []
        let bytes = 0
        for await (const item of readWalFiles(this.#host.vfs, this.#host.dir, next, durable)) {
          if (signal?.aborted === true) return
          if (batch.length > 0 && bytes + item.record.length > maxBytes) {
            yield batch
            batch = []
            bytes = 0
          }
          batch.push(item)
          bytes += item.record.length
          next = item.seqno + 1
        }
        if (batch.length > 0) yield batch
      }
      for (;;) {
        const records = await subscription.nextBatch(signal, maxBytes)
        if (records === undefined) return
        const batch: WalRecord[] = []
        for (const record of records) {
          const seqno = readFixed64(record, 0)
          if (seqno < next) continue
          if (seqno !== next) throw walGone(next, 'the stream fell behind')
          batch.push({ seqno, record })
          next++
        }
        if (batch.length > 0) yield batch
      }
    } finally {
      subscription.close()
    }
  }

  get walStreams(): number {
    return this.#feed.subscriberCount
  }

  /** Ends leases, long-polls and WAL readers. Idempotent. */
  close(): void {
    this.#closed = true
    this.#leases.closeAll()
    this.#feed.close()
    for (const w of this.#versionWaiters.splice(0)) w()
  }

  #checkOpen(): void {
    if (this.#closed) throw new StrataError(ErrorCode.CLOSED, 'the tree is closed')
  }
}

async function* flatten<T>(batches: AsyncGenerator<T[]>): AsyncGenerator<T> {
  for await (const batch of batches) yield* batch
}
