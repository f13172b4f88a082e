/**
 * TreeCore: the state a Tree shares with its helpers (tree-maintenance.ts, replication), and the
 * one path every Version change takes: installEdit. Local flushes, compactions and a follower's
 * replicated deltas all install through it (DESIGN.md: one code path to test).
 *
 * State and its invariants:
 * - `view` (active memtable, immutable memtables newest first, current Version) is replaced as
 *   a whole, synchronously; reads capture it once.
 * - `visibleSeqno` is the newest seqno reads see (durable on a leader, applied on a follower).
 * - `horizon`: history below it may have been collapsed by compaction; a read at an older seqno
 *   must name a live snapshot.
 * - After a background failure (`backgroundError`) the tree is read-only.
 * - Files made obsolete by an edit are deleted only once a LATER manifest record is durable
 *   (`deferred`): the last record of a manifest cannot be told apart from a torn write if media
 *   damages it; recovery then drops it and rolls the Version back one edit, and the files that
 *   edit made obsolete (a WAL it flushed, the inputs of a compaction) must still be there.
 */
import { assert } from './base/assert.js'
import type { BlockCache } from './cache/block-cache.js'
import type { TableCache } from './cache/table-cache.js'
import { StrataError, ErrorCode } from './errors.js'
import { FileReferences } from './file-references.js'
import { tableFileName, walFileName } from './filenames.js'
import { Memtable } from './memtable/memtable.js'
import type { ResolvedOptions } from './options.js'
import type { ReadView } from './read-view.js'
import { SnapshotList } from './snapshots.js'
import type { VersionEdit } from './version/version-edit.js'
import type { VersionSet } from './version/version-set.js'
import type { Version } from './version/version.js'

export interface InstallChange {
  /** A memtable now in a table: dropped from the immutables. */
  flushed?: Memtable
  /** Replaces the memtables, in the same synchronous step as the Version (followers). */
  memtables?: (view: ReadView) => Pick<ReadView, 'active' | 'immutables'>
}

export class TreeCore {
  view: ReadView
  visibleSeqno: number
  horizon: number
  backgroundError: StrataError | undefined
  readonly snapshots = new SnapshotList()
  readonly refs: FileReferences
  readonly counters = { flushes: 0, compactions: 0, bytesFlushed: 0, bytesCompacted: 0, droppedTailBytes: 0, cleanupErrors: 0, stalls: 0, trivialMoves: 0 }
  readonly pendingDeletes = new Set<Promise<void>>()
  deferred: { tables: number[]; wals: number[] } = { tables: [], wals: [] }
  /** Runs after every install (the compaction scheduler looks for work). */
  onInstalled: () => void = () => undefined
  #changeWaiters: (() => void)[] = []
  #seqnoWaiters: { seqno: number; wake: () => void }[] = []

  constructor(
    readonly path: string,
    readonly options: ResolvedOptions,
    readonly versions: VersionSet,
    readonly tables: TableCache,
    readonly blockCache: BlockCache,
    lastSeqno: number,
  ) {
    this.visibleSeqno = lastSeqno
    this.horizon = lastSeqno
    this.refs = new FileReferences((ids) => this.deferred.tables.push(...ids))
    this.refs.ref(versions.current)
    this.view = { active: new Memtable(), immutables: [], version: versions.current }
  }

  /** Logs `edit`, installs the Version it produces, and applies `change` to the memtables. */
  async installEdit(edit: VersionEdit, change: InstallChange = {}): Promise<Version> {
    const due = this.deferred
    this.deferred = { tables: [], wals: [] }
    const version = await this.versions.logAndApply(edit)
    const old = this.view.version
    this.refs.ref(version)
    const flushed = change.flushed
    const memtables = change.memtables?.(this.view) ?? {
      active: this.view.active,
      immutables: flushed ? this.view.immutables.filter((m) => m !== flushed) : this.view.immutables,
    }
    this.view = { ...memtables, version }
    this.refs.unref(old)
    this.notifyChange()
    this.onInstalled()
    this.runDeletions(due)
    return version
  }

  runDeletions(due: { tables: number[]; wals: number[] }): void {
    const jobs = [
      ...due.tables.map((id) => this.tables.close(id).then(() => this.removeFile(tableFileName(id)))),
      ...due.wals.map((n) => this.removeFile(walFileName(n))),
    ]
    for (const p of jobs) {
      this.pendingDeletes.add(p)
      void p.finally(() => this.pendingDeletes.delete(p))
    }
  }

  get hasDeferredDeletions(): boolean {
    return this.deferred.tables.length > 0 || this.deferred.wals.length > 0
  }

  private async removeFile(name: string): Promise<void> {
    try {
      await this.options.vfs.remove(`${this.path}/${name}`)
    } catch (error) {
      // An obsolete file left behind is removed at the next open; it never affects data.
      if (!(error instanceof StrataError && error.code === ErrorCode.NOT_FOUND)) this.counters.cleanupErrors++
    }
  }

  /** Makes `seqno` the read seqno and wakes waitForSeqno callers it satisfies. */
  publish(seqno: number): void {
    this.visibleSeqno = seqno
    if (this.#seqnoWaiters.length === 0) return
    const woken = this.#seqnoWaiters.filter((w) => w.seqno <= seqno)
    this.#seqnoWaiters = this.#seqnoWaiters.filter((w) => w.seqno > seqno)
    for (const w of woken) w.wake()
  }

  /** Resolves true once reads see `seqno`, false after `timeoutMs` or when `signal` aborts. */
  waitForSeqno(seqno: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    assert(Number.isSafeInteger(timeoutMs) && timeoutMs >= 0, 'timeoutMs')
    if (this.visibleSeqno >= seqno) return Promise.resolve(true)
    if (timeoutMs === 0 || signal?.aborted === true) return Promise.resolve(false)
    return new Promise((resolve) => {
      const entry = { seqno, wake: () => finish() }
      const finish = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', finish)
        this.#seqnoWaiters = this.#seqnoWaiters.filter((w) => w !== entry)
        resolve(this.visibleSeqno >= seqno)
      }
      const timer = setTimeout(finish, timeoutMs)
      signal?.addEventListener('abort', finish, { once: true })
      this.#seqnoWaiters.push(entry)
    })
  }

  /** Wakes writers waiting on a write stall (a Version changed or the tree failed). */
  notifyChange(): void {
    for (const w of this.#changeWaiters.splice(0)) w()
  }

  waitForChange(): Promise<void> {
    return new Promise((resolve) => this.#changeWaiters.push(resolve))
  }

  setBackgroundError(error: unknown): void {
    if (this.backgroundError) return
    const cause = error instanceof StrataError ? error : new StrataError(ErrorCode.IO, String(error), { cause: error })
    this.backgroundError = cause
    this.notifyChange()
  }

  readOnlyError(): StrataError {
    const cause = this.backgroundError
    return new StrataError(ErrorCode.READ_ONLY, `the tree is read-only after a background failure: ${cause?.message}`, { cause })
  }

  /** Releases every seqno waiter (close). */
  wakeAll(): void {
    for (const w of this.#seqnoWaiters.splice(0)) w.wake()
    this.notifyChange()
  }
}
