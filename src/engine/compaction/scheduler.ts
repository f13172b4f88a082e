/**
 * Background compaction: asks the picker (pure) for a task whenever the Version changes, runs
 * it on the job runner (worker threads), and installs the resulting edit. The main thread only
 * decides and installs (DESIGN.md); a failure puts the tree in degraded read-only mode through
 * the host.
 *
 * Invariants:
 * - A table is in at most one running task (`busy`); pickers never pick busy tables.
 * - A manual major compaction first pauses picking and waits for running tasks (`exclusive`).
 * - Trivial moves and FIFO drops install an edit with no I/O on table files.
 */
import type { TableMeta } from '../version/file-metadata.js'
import type { VersionEdit } from '../version/version-edit.js'
import type { Version } from '../version/version.js'
import type { JobCommon } from './job.js'
import type { JobRunner } from './job-runner.js'
import { pickCompaction, type CompactionOptions, type CompactionTask } from './picker.js'

export interface SchedulerHost {
  version(): Version
  snapshots(): number[]
  visibleSeqno(): number
  runner: JobRunner
  jobCommon(): JobCommon
  /** Opens the new tables and makes their directory entries durable. */
  prepareTables(tables: readonly TableMeta[]): Promise<void>
  install(edit: VersionEdit): Promise<void>
  /** Compaction dropped history below this seqno (reads there need a snapshot). */
  raiseHorizon(seqno: number): void
  fail(error: unknown): void
  canRun(): boolean
  record(task: CompactionTask, bytesWritten: number): void
}

export class CompactionScheduler {
  private readonly busy = new Set<number>()
  private readonly running = new Set<Promise<void>>()
  private pauses = 0
  /** Concurrent tasks: one per background thread, at least one. */
  private readonly concurrency: number

  constructor(private readonly host: SchedulerHost, private readonly options: CompactionOptions, concurrency: number) {
    this.concurrency = Math.max(1, concurrency)
  }

  get runningCount(): number {
    return this.running.size
  }

  /** Starts as many tasks as the picker offers, up to the concurrency. */
  maybeSchedule(): void {
    while (this.pauses === 0 && this.running.size < this.concurrency && this.host.canRun()) {
      const task = pickCompaction(this.host.version(), this.options, { busyTableIds: this.busy, nowMs: Date.now() })
      if (task === undefined) return
      const ids = task.inputs.flatMap((i) => i.tables.map((t) => t.id))
      for (const id of ids) this.busy.add(id)
      const run: Promise<void> = this.execute(task)
        .catch((error) => this.host.fail(error))
        .finally(() => {
          for (const id of ids) this.busy.delete(id)
          this.running.delete(run)
          this.maybeSchedule()
        })
      this.running.add(run)
    }
  }

  /** Stops picking and waits for running tasks; the returned function resumes. */
  async pause(): Promise<() => void> {
    this.pauses++
    while (this.running.size > 0) await Promise.allSettled([...this.running])
    let resumed = false
    return () => {
      if (resumed) return
      resumed = true
      this.pauses--
      this.maybeSchedule()
    }
  }

  /** Resolves when no task runs (for close). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running])
  }

  private async execute(task: CompactionTask): Promise<void> {
    const removeTables = task.inputs.flatMap((i) => i.tables.map((t) => ({ level: i.level, id: t.id })))
    const edit: VersionEdit = { addTables: [], removeTables, addBlobFiles: [], removeBlobFiles: [] }
    if (task.kind === 'move') {
      edit.addTables = task.inputs.flatMap((i) => i.tables.map((t) => ({ ...t, level: task.outputLevel })))
      await this.host.install(edit)
      this.host.record(task, 0)
      return
    }
    if (task.kind === 'drop') {
      await this.host.install(edit)
      this.host.record(task, 0)
      return
    }
    const horizon = this.host.visibleSeqno()
    const { tables } = await this.host.runner.run({
      type: 'compact',
      ...this.host.jobCommon(),
      tableBytes: this.options.tableBytes,
      inputs: removeTables,
      outputLevel: task.outputLevel,
      bottommost: task.bottommost,
      snapshots: this.host.snapshots(),
    })
    await this.host.prepareTables(tables)
    edit.addTables = tables
    await this.host.install(edit)
    this.host.raiseHorizon(horizon)
    this.host.record(task, tables.reduce((n, t) => n + t.sizeBytes, 0))
  }
}
