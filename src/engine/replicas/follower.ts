/**
 * Replica (follower side): a tree opened with `follower: true` never writes, flushes or
 * compacts on its own. Its Version changes only by installing a leader's delta, through the
 * same path local flushes and compactions use (VersionSet.logAndApply via the tree's
 * installEdit), and its memtables hold only WAL records streamed from the leader.
 *
 * Position: the follower's manifest records, in the edit of every install, the leader versionId
 * its Version now equals (VersionEdit.replicatedVersionId) and the seqno its tables hold
 * (lastSeqno). The installed version IS the position: there is no second file to keep in step.
 *
 * Memtable rule (WAL stream): the memtables hold exactly the records with seqno in
 * (tablesSeqno, walSeqno], consecutive. A delta whose seqno covers some of them drops them in
 * the same synchronous step that installs its Version, so a record is never read twice (a
 * merge operand counted twice) nor missed. A record at or below tablesSeqno is skipped; one
 * that does not continue the sequence is refused (REPLICA_DIVERGED), never applied over a gap.
 * A WAL stream from a new leader epoch (the leader restarted) first drops the records above the
 * seqno that epoch started at: a leader running with sync 'none' may have lost them.
 *
 * Invariants:
 * - A delta installs only when it starts at the installed version (delta.from), its seqno does
 *   not go back, every table it removes is present, and every file it adds is present with the
 *   size and CRC-32C the delta names and opens as a table. Else nothing changes.
 * - Installs run one at a time; WAL applies are synchronous and never interleave with the
 *   synchronous part of an install.
 */
import { assert } from '../base/assert.js'
import { crc32cUpdate } from '../base/crc32c.js'
import { StrataError, ErrorCode, corruption } from '../errors.js'
import { KeyKind } from '../base/internal-key.js'
import { pathInDir, tableFileName } from '../filenames.js'
import type { Memtable } from '../memtable/memtable.js'
import type { ReadView } from '../read-view.js'
import type { TableMeta } from '../version/file-metadata.js'
import type { VersionEdit } from '../version/version-edit.js'
import type { Version } from '../version/version.js'
import type { Vfs } from '../vfs/vfs.js'
import { decodeBatchRecord } from '../wal/batch-record.js'
import { memtableBytes, retainMemtables, sealIfFull } from './follower-memtables.js'
import type { FollowerPosition, ReplicationDelta } from './types.js'

/** Bytes per read when checksumming a received file. */
const VERIFY_CHUNK_BYTES = 1024 * 1024

/** What a follower needs from its tree. */
export interface ReplicaHost {
  readonly vfs: Vfs
  readonly dir: string
  /** Where received files wait by default (REPLICA_STAGING_DIR_NAME in the tree directory). */
  readonly stagingDir: string
  readonly treeId: string
  view(): ReadView
  /** Swaps the memtables (synchronously), keeping the Version. */
  setMemtables(memtables: Pick<ReadView, 'active' | 'immutables'>): void
  /** versions.lastSeqno at open, and versions.replicatedVersionId. */
  tablesSeqno(): number
  replicatedVersionId(): number | undefined
  /** Opens the table (verifies footer, index, properties) into the table cache. */
  openTable(id: number): Promise<{ properties: { entries: number; smallestSeqno: number; largestSeqno: number; smallestKey: Buffer; largestKey: Buffer } }>
  /** The tree's install path; `memtables` runs synchronously right after the Version swap. */
  installEdit(edit: VersionEdit, memtables: (view: ReadView) => Pick<ReadView, 'active' | 'immutables'>): Promise<Version>
  /** Publishes a new read seqno (wakes readers waiting for it). */
  publish(seqno: number): void
}

export type WalApplyResult = 'applied' | 'skipped' | 'full'

/** The caller's view of one delta install. */
export interface InstallOptions {
  /** Where received files wait (moved into the tree directory on install); default the
   *  tree's REPLICA_STAGING_DIR_NAME. */
  stagingDir?: string
}

export class Replica {
  readonly #host: ReplicaHost
  readonly #memtableBytesMax: number
  /** The seqno the tables of the view's Version hold; changes in the same step as the view. */
  #tablesSeqno: number
  #walSeqno = 0
  #walEpoch: string | null = null
  #installs: Promise<unknown> = Promise.resolve()

  constructor(host: ReplicaHost, memtableBytesMax: number) {
    assert(Number.isSafeInteger(memtableBytesMax) && memtableBytesMax > 0, 'memtableBytesMax')
    this.#host = host
    this.#memtableBytesMax = memtableBytesMax
    this.#tablesSeqno = host.tablesSeqno()
  }

  /** The seqno reads see. */
  get seqno(): number {
    return Math.max(this.#tablesSeqno, this.#walSeqno)
  }

  position(): FollowerPosition {
    return {
      treeId: this.#host.treeId,
      versionId: this.#host.replicatedVersionId(),
      seqno: this.seqno,
      tablesSeqno: this.#tablesSeqno,
      walSeqno: this.#walSeqno,
      walEpoch: this.#walEpoch,
      memtableBytes: memtableBytes(this.#host.view()),
    }
  }

  /**
   * Installs `delta` (see the invariants). Files it adds must be in the tree directory or in
   * `stagingDir`. Throws REPLICA_DIVERGED when the delta does not continue this copy, NOT_FOUND
   * when a file is missing, CORRUPTION when one does not match; nothing changes then.
   */
  installDelta(delta: ReplicationDelta, options: InstallOptions = {}): Promise<number> {
    const run = this.#installs.then(() => this.#install(delta, options))
    this.#installs = run.catch(() => undefined)
    return run
  }

  async #install(delta: ReplicationDelta, options: InstallOptions): Promise<number> {
    this.#checkContinues(delta)
    const version = this.#host.view().version
    const present = new Map(version.allTables().map((t) => [t.id, t]))
    const removeTables = delta.removeTables.map((id) => {
      const table = present.get(id)
      if (table === undefined) throw diverged(`the delta removes table ${id}, which this copy does not hold`)
      return { level: table.level, id }
    })
    if (delta.addBlobFiles.length > 0 || delta.removeBlobFiles.length > 0) {
      throw new StrataError(ErrorCode.UNSUPPORTED, 'blob files are not supported by this build')
    }
    const removed = new Set(delta.removeTables)
    for (const table of delta.addTables) {
      const held = present.get(table.id)
      if (held !== undefined && removed.has(table.id)) {
        checkSameTable(held, table)
        continue // a move between levels: the file is already here and verified
      }
      if (held !== undefined) throw diverged(`the delta adds table ${table.id}, which this copy already holds`)
      await this.#placeTable(table, options.stagingDir ?? this.#host.stagingDir)
    }
    if (delta.addTables.length > 0) await this.#host.vfs.syncDir(this.#host.dir)
    const tablesSeqno = delta.seqno
    const edit: VersionEdit = {
      addTables: delta.addTables.map((t) => ({ ...t })),
      removeTables,
      addBlobFiles: [],
      removeBlobFiles: [],
      lastSeqno: tablesSeqno,
      replicatedVersionId: delta.to,
    }
    await this.#host.installEdit(edit, (view) => {
      // Runs in the same synchronous step as the Version swap (see the memtable rule).
      this.#tablesSeqno = tablesSeqno
      if (this.#walSeqno <= tablesSeqno) this.#walSeqno = 0
      return retainMemtables(view, (seqno) => seqno > tablesSeqno)
    })
    this.#host.publish(this.seqno)
    return delta.to
  }

  #checkContinues(delta: ReplicationDelta): void {
    if (delta.treeId !== this.#host.treeId) throw diverged(`the delta is of tree ${delta.treeId}, this copy of ${this.#host.treeId}`)
    const installed = this.#host.replicatedVersionId()
    if (installed !== undefined && delta.from !== installed) {
      throw diverged(`the delta starts at version ${delta.from}, this copy holds ${installed}`)
    }
    if (delta.to < delta.from) throw diverged('the delta goes back in versions')
    if (delta.seqno < this.#tablesSeqno) {
      throw diverged(`the delta's tables hold seqno ${delta.seqno}, older than this copy's ${this.#tablesSeqno}`)
    }
  }

  /** Moves the table from staging if needed, then checks size, CRC-32C and that it opens. */
  async #placeTable(table: TableMeta, stagingDir: string): Promise<void> {
    const vfs = this.#host.vfs
    const name = tableFileName(table.id)
    const path = pathInDir(this.#host.dir, name)
    if (!(await vfs.exists(path))) {
      const staged = pathInDir(stagingDir, name)
      if (!(await vfs.exists(staged))) {
        throw new StrataError(ErrorCode.NOT_FOUND, `table ${name} of the delta has not been received`)
      }
      await verifyFile(vfs, staged, name, table)
      await vfs.rename(staged, path)
    } else {
      await verifyFile(vfs, path, name, table)
    }
    const { properties } = await this.#host.openTable(table.id)
    const p = properties
    if (p.entries !== table.entries || p.smallestSeqno !== table.smallestSeqno || p.largestSeqno !== table.largestSeqno ||
      !p.smallestKey.equals(table.smallestKey) || !p.largestKey.equals(table.largestKey)) {
      throw corruption('the table does not match the metadata of the delta', name)
    }
  }

  /**
   * Starts (or resumes) applying a WAL stream of leader epoch `epoch` that began at
   * `epochStartSeqno`; returns the seqno to stream after. A new epoch first drops applied
   * records above `epochStartSeqno` (see the file comment).
   */
  beginWalStream(epoch: string, epochStartSeqno: number): number {
    if (this.#walEpoch !== epoch) {
      if (this.#walEpoch !== null && this.#walSeqno > epochStartSeqno) {
        this.#host.setMemtables(retainMemtables(this.#host.view(), (seqno) => seqno <= epochStartSeqno))
        this.#walSeqno = epochStartSeqno > this.#tablesSeqno ? epochStartSeqno : 0
        this.#host.publish(this.seqno)
      }
      this.#walEpoch = epoch
    }
    return this.seqno
  }

  /**
   * Applies one WAL record (wal/batch-record.ts bytes; kept by reference: the caller hands
   * over a buffer it no longer changes). 'skipped' when the tables already hold it, 'full'
   * when the memtables are at their bound (apply nothing more until a delta drops records).
   * Throws CORRUPTION for a malformed record, REPLICA_DIVERGED for one that leaves a gap.
   */
  applyBatch(record: Buffer): WalApplyResult {
    const { seqno, ops } = decodeBatchRecord(record, 'replication-wal', 0)
    if (seqno <= this.#tablesSeqno) return 'skipped'
    const expected = this.seqno + 1
    if (seqno !== expected) throw diverged(`WAL record ${seqno} does not follow ${expected - 1}`)
    let view = this.#host.view()
    if (memtableBytes(view) >= this.#memtableBytesMax) return 'full'
    const sealed = sealIfFull(view)
    if (sealed !== undefined) {
      this.#host.setMemtables(sealed)
      view = this.#host.view()
    }
    addOps(view.active, seqno, ops)
    this.#walSeqno = seqno
    this.#host.publish(seqno)
    return 'applied'
  }

  /** Resolves once the installs queued so far have finished (or failed). */
  async idle(): Promise<void> {
    await this.#installs
  }
}

function addOps(mem: Memtable, seqno: number, ops: ReturnType<typeof decodeBatchRecord>['ops']): void {
  for (const op of ops) {
    if (op.kind === KeyKind.RangeDelete) mem.addRangeTombstone(op.key, op.value, seqno)
    else mem.add(op.key, seqno, op.kind, op.value)
  }
}

function diverged(message: string): StrataError {
  return new StrataError(ErrorCode.REPLICA_DIVERGED, message)
}

function checkSameTable(held: TableMeta, moved: TableMeta): void {
  if (held.sizeBytes !== moved.sizeBytes || held.checksum !== moved.checksum) {
    throw diverged(`table ${held.id} moved by the delta differs from the one this copy holds`)
  }
}

/** Size and CRC-32C of a received file against the delta's metadata. */
export async function verifyFile(vfs: Vfs, path: string, name: string, meta: { sizeBytes: number; checksum: number }): Promise<void> {
  const file = await vfs.openReadable(path)
  try {
    if (file.sizeBytes !== meta.sizeBytes) throw corruption(`received ${file.sizeBytes} bytes, the delta says ${meta.sizeBytes}`, name)
    let crc = 0
    for (let offset = 0; offset < file.sizeBytes; offset += VERIFY_CHUNK_BYTES) {
      crc = crc32cUpdate(crc, file.readAt(offset, Math.min(VERIFY_CHUNK_BYTES, file.sizeBytes - offset)))
    }
    if (crc !== meta.checksum) throw corruption('checksum of the received file does not match the delta', name)
  } finally {
    await file.close()
  }
}
