/**
 * The local write side of a (leader) tree: its WAL and memtable rotation, flushes, major
 * compaction, the compaction scheduler's host and write stalls. Every Version change goes
 * through TreeCore.installEdit. A follower has none of this (replicas/follower.ts).
 *
 * Invariants:
 * - A memtable turns immutable together with its WAL (rotate, inside a pipeline barrier);
 *   immutables are flushed oldest first, one at a time (`flushChain`).
 * - A flush edit carries logNumber = the oldest WAL still needed and lastSeqno = the largest
 *   seqno now in tables; the WAL it retires is deleted only after a later manifest record.
 * - The manifest never names a table whose directory entry may be lost: the directory is
 *   synced after tables are written and before their edit.
 */
import { assert } from './base/assert.js'
import { KeyKind } from './base/internal-key.js'
import { encodeEntryStream } from './compaction/entry-stream.js'
import type { JobCommon } from './compaction/job.js'
import type { JobRunner } from './compaction/job-runner.js'
import { pendingCompactionBytes, writeStall } from './compaction/picker.js'
import { CompactionScheduler, type SchedulerHost } from './compaction/scheduler.js'
import { walFileName } from './filenames.js'
import { Memtable } from './memtable/memtable.js'
import { LEVEL_COUNT } from './options.js'
import type { TreeCore } from './tree-core.js'
import { filterModuleOf } from './tree-options.js'
import type { TableMeta } from './version/file-metadata.js'
import type { VersionEdit } from './version/version-edit.js'
import type { CommitHost, CommitPipeline } from './wal/commit-pipeline.js'
import { LogWriter } from './wal/log-writer.js'

export class Maintenance {
  readonly scheduler: CompactionScheduler
  #wal: LogWriter
  #walNumber: number
  readonly #immutableWals = new Map<Memtable, number>()
  #flushChain: Promise<void> = Promise.resolve()
  #compactChain: Promise<void> = Promise.resolve()
  /** Set once close() has drained writes: no new background work starts after it. */
  stopping = false
  /** True until open() has removed obsolete files: no compaction may create files before that. */
  opening = true

  constructor(
    private readonly core: TreeCore,
    private readonly runner: JobRunner,
    wal: { writer: LogWriter; number: number },
  ) {
    this.#wal = wal.writer
    this.#walNumber = wal.number
    this.scheduler = new CompactionScheduler(this.schedulerHost(), core.options.compaction, core.options.backgroundThreads)
    core.onInstalled = () => this.scheduler.maybeSchedule()
  }

  get walNumber(): number {
    return this.#walNumber
  }

  get pendingCompactionBytes(): number {
    return pendingCompactionBytes(this.core.view.version, this.core.options.compaction)
  }

  /** The commit pipeline's host; `onDurable` sees each durable group (replication). */
  commitHost(onDurable?: (seqno: number, records: readonly Buffer[]) => void): CommitHost {
    const core = this.core
    return {
      syncPolicy: core.options.sync,
      beforeGroup: async () => {
        await this.applyWriteStall()
        if (core.view.active.approximateBytes >= core.options.memtableBytes) await this.rotate()
      },
      currentWal: () => this.#wal,
      apply: (seqno, ops) => {
        const mem = core.view.active
        for (const op of ops) {
          if (op.kind === KeyKind.RangeDelete) mem.addRangeTombstone(op.key, op.value, seqno)
          else mem.add(op.key, seqno, op.kind, op.value)
        }
      },
      publish: (seqno) => {
        assert(seqno > core.visibleSeqno, 'published seqnos increase')
        core.publish(seqno)
      },
      fail: (error) => core.setBackgroundError(error),
      ...(onDurable === undefined ? {} : { onDurable }),
    }
  }

  /**
   * Rotates the active memtable (between commit groups) and waits until it, and every older
   * memtable, is in a table. Returns the seqno everything up to which is now in tables.
   */
  async flushUpToNow(pipeline: CommitPipeline): Promise<number> {
    const core = this.core
    let seqno = 0
    await pipeline.barrier(async () => {
      seqno = core.visibleSeqno
      if (!core.view.active.isEmpty) await this.rotate()
    })
    await this.#flushChain
    if (core.backgroundError) throw core.readOnlyError()
    return seqno
  }

  /** Major compaction after the running background tasks, with picking paused. */
  compact(): Promise<void> {
    const run = this.#compactChain.then(async () => {
      const resume = await this.scheduler.pause()
      try {
        await this.majorCompaction()
      } finally {
        resume()
      }
    })
    this.#compactChain = run.catch(() => undefined)
    return run
  }

  private async majorCompaction(): Promise<void> {
    const core = this.core
    if (core.backgroundError) throw core.readOnlyError()
    const version = core.view.version
    const inputs = version.allTables()
    if (inputs.length === 0) return
    core.refs.ref(version)
    try {
      const visibleAtStart = core.visibleSeqno
      const { tables: outputs } = await this.runner.run({
        type: 'compact',
        ...this.jobCommon(),
        inputs: inputs.map((t) => ({ id: t.id, level: t.level })),
        outputLevel: LEVEL_COUNT - 1,
        bottommost: true,
        snapshots: core.snapshots.seqnos(),
      })
      for (const t of outputs) await core.tables.open(t.id)
      await core.options.vfs.syncDir(core.path) // the manifest must never name a table the directory may lose
      await core.installEdit({
        addTables: outputs,
        removeTables: inputs.map((t) => ({ level: t.level, id: t.id })),
        addBlobFiles: [],
        removeBlobFiles: [],
      })
      if (visibleAtStart > core.horizon) core.horizon = visibleAtStart
      core.counters.compactions++
      core.counters.bytesCompacted += outputs.reduce((n, t) => n + t.sizeBytes, 0)
    } catch (error) {
      core.setBackgroundError(error)
      throw core.readOnlyError()
    } finally {
      core.refs.unref(version)
    }
  }

  private jobCommon(): JobCommon {
    const o = this.core.options
    return {
      dir: this.core.path,
      tableBytes: o.tableBytes,
      mergeOperatorName: o.mergeOperator?.name ?? null,
      compactionFilter: filterModuleOf(o),
      builder: { blockBytes: o.blockBytes, compression: o.compression, zstdLevel: o.zstdLevel, filterBitsPerKey: o.filterBitsPerKey },
    }
  }

  /** Turns the active memtable immutable and starts a new WAL. Runs inside a pipeline barrier. */
  private async rotate(): Promise<void> {
    const core = this.core
    const vfs = core.options.vfs
    const number = core.versions.newFileNumber()
    const name = walFileName(number)
    const file = await vfs.create(`${core.path}/${name}`)
    await vfs.syncDir(core.path)
    const old = this.#wal
    const mem = core.view.active
    this.#immutableWals.set(mem, this.#walNumber)
    this.#wal = new LogWriter(file, name)
    this.#walNumber = number
    core.view = { active: new Memtable(), immutables: [mem, ...core.view.immutables], version: core.view.version }
    if (core.options.sync === 'none') await old.sync()
    await old.close()
    this.scheduleFlush()
  }

  private scheduleFlush(): void {
    this.#flushChain = this.#flushChain
      .then(() => this.flushOldest())
      .catch((error) => this.core.setBackgroundError(error))
  }

  private async flushOldest(): Promise<void> {
    if (this.core.backgroundError) return
    const imms = this.core.view.immutables
    const mem = imms[imms.length - 1]
    if (mem === undefined) return
    await this.installFlush(mem, mem.largestSeqno)
  }

  /** Writes `mem` to level 0 and installs it, advancing the WAL log number past it. */
  async installFlush(mem: Memtable, lastSeqno: number): Promise<void> {
    const core = this.core
    let meta: TableMeta | undefined
    if (!mem.isEmpty) {
      const entries = await encodeEntryStream(mem.newIterator())
      const result = await this.runner.run({ type: 'flush', ...this.jobCommon(), entries, tombstones: [...mem.rangeTombstones()] })
      meta = result.tables[0]
    }
    if (meta) {
      await core.tables.open(meta.id)
      await core.options.vfs.syncDir(core.path)
    }
    const remaining = core.view.immutables.filter((m) => m !== mem)
    const oldest = remaining[remaining.length - 1]
    const logNumber = oldest === undefined ? this.#walNumber : this.#immutableWals.get(oldest)!
    const edit: VersionEdit = {
      addTables: meta ? [meta] : [],
      removeTables: [],
      addBlobFiles: [],
      removeBlobFiles: [],
      logNumber,
      lastSeqno: Math.max(lastSeqno, core.versions.lastSeqno),
    }
    await core.installEdit(edit, { flushed: mem })
    core.counters.flushes++
    core.counters.bytesFlushed += meta?.sizeBytes ?? 0
    const walNumber = this.#immutableWals.get(mem)
    this.#immutableWals.delete(mem)
    if (walNumber !== undefined) core.deferred.wals.push(walNumber)
  }

  /** Backpressure before a commit group: slow down or wait while L0 or the memtables pile up. */
  private async applyWriteStall(): Promise<void> {
    const core = this.core
    for (;;) {
      if (core.backgroundError) throw core.readOnlyError()
      const stall = writeStall(core.view.version, core.view.immutables.length, {
        ...core.options.compaction,
        immutableMemtablesMax: core.options.immutableMemtablesMax,
      })
      if (stall.state === 'none') return
      core.counters.stalls++
      if (stall.state === 'slowdown') {
        await new Promise((resolve) => setTimeout(resolve, stall.delayMs))
        return
      }
      await core.waitForChange()
    }
  }

  private schedulerHost(): SchedulerHost {
    const core = this.core
    return {
      version: () => core.view.version,
      snapshots: () => core.snapshots.seqnos(),
      visibleSeqno: () => core.visibleSeqno,
      runner: this.runner,
      jobCommon: () => this.jobCommon(),
      prepareTables: async (tables) => {
        for (const t of tables) await core.tables.open(t.id)
        if (tables.length > 0) await core.options.vfs.syncDir(core.path)
      },
      install: async (edit) => {
        await core.installEdit(edit)
      },
      raiseHorizon: (seqno) => {
        if (seqno > core.horizon) core.horizon = seqno
      },
      fail: (error) => core.setBackgroundError(error),
      canRun: () => !this.opening && !this.stopping && core.backgroundError === undefined,
      record: (task, bytesWritten) => {
        core.counters.compactions++
        core.counters.bytesCompacted += bytesWritten
        if (task.kind === 'move') core.counters.trivialMoves++
      },
    }
  }

  /** Stops background work and makes the WAL durable (close). */
  async close(): Promise<void> {
    const core = this.core
    this.stopping = true
    await this.#flushChain
    await this.#compactChain
    await this.scheduler.idle()
    if (!core.backgroundError && core.hasDeferredDeletions) {
      await core.installEdit({ addTables: [], removeTables: [], addBlobFiles: [], removeBlobFiles: [] }).catch((e) => core.setBackgroundError(e))
    }
    if (!core.backgroundError) await this.#wal.sync().catch((e) => core.setBackgroundError(e))
    await this.#wal.close()
  }
}
