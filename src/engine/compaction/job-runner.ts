/**
 * Where background jobs run. WorkerRunner keeps a small pool of worker threads (the event loop
 * is never blocked by table building: DESIGN.md); InlineRunner runs the same job code on the
 * main thread and is used when the Vfs is not the node one (MemVfs and FaultVfs live in this
 * thread's memory) or the merge operator or compaction filter is an object a worker cannot
 * rebuild (a filter given as a module is imported by the worker itself).
 *
 * A worker that dies mid-job (crash, OOM) rejects that job with an IO error and is replaced;
 * its partial output files are never referenced by any Version and are removed at next open.
 */
import { Worker } from 'node:worker_threads'
import { StrataError, ErrorCode } from '../errors.js'
import type { MergeOperator } from '../merge/merge-operator.js'
import type { CompactionFilter } from './compaction-filter.js'
import type { Vfs } from '../vfs/vfs.js'
import { reviveTableMeta, runJob, type Job, type JobResult } from './job.js'
import { reviveError, type SerializedError } from './job-errors.js'

export interface JobRunner {
  readonly kind: 'worker' | 'inline'
  run(job: Job): Promise<JobResult>
  /** Jobs running now. */
  readonly running: number
  close(): Promise<void>
}

export class InlineRunner implements JobRunner {
  readonly kind = 'inline'
  running = 0

  constructor(
    private readonly vfs: Vfs,
    private readonly newFileNumber: () => number,
    private readonly mergeOperator: MergeOperator | undefined,
    private readonly compactionFilter?: CompactionFilter | undefined,
  ) {}

  async run(job: Job): Promise<JobResult> {
    this.running++
    try {
      return await runJob(job, {
        vfs: this.vfs,
        newFileNumber: this.newFileNumber,
        mergeOperator: this.mergeOperator,
        compactionFilter: this.compactionFilter,
      })
    } finally {
      this.running--
    }
  }

  async close(): Promise<void> {}
}

interface Pending {
  job: Job
  id: number
  newFileNumber: () => number
  resolve: (r: JobResult) => void
  reject: (e: unknown) => void
}

interface Slot {
  worker: Worker
  busy: Pending | undefined
}

type WorkerMessage =
  | { type: 'done'; id: number; result: JobResult }
  | { type: 'failed'; id: number; error: SerializedError }
  | { type: 'need-file-number'; request: number }

function workerUrl(): URL {
  // Under the test loader this module is TypeScript; built, it is JavaScript.
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js'
  return new URL(`./worker-main.${ext}`, import.meta.url)
}

/**
 * The process-wide pool of background workers, shared by every tree: a server hosting many
 * trees runs a bounded number of threads, and a worker (which costs a module load) is started
 * only when the first job needs it. Workers are unref'd: they never keep the process alive.
 */
class WorkerPool {
  private readonly slots: Slot[] = []
  private readonly queue: Pending[] = []
  private nextId = 1
  private size = 0

  /** Grows the pool to at least `size` workers (spawned lazily). */
  reserve(size: number): void {
    this.size = Math.max(this.size, size)
  }

  run(job: Job, newFileNumber: () => number): Promise<JobResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job, id: this.nextId++, newFileNumber, resolve, reject })
      this.dispatch()
    })
  }

  /** Removes queued (not started) jobs of one runner. */
  cancel(predicate: (p: Pending) => boolean, error: unknown): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const p = this.queue[i]!
      if (predicate(p)) {
        this.queue.splice(i, 1)
        p.reject(error)
      }
    }
  }

  async killAll(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()))
  }

  private spawn(): Slot {
    const worker = new Worker(workerUrl())
    const slot: Slot = { worker, busy: undefined }
    worker.on('message', (msg: WorkerMessage) => this.onMessage(slot, msg))
    worker.on('error', (error) => this.onExit(slot, error))
    worker.on('exit', (code) => this.onExit(slot, new Error(`worker exited with code ${code}`)))
    // Idle workers never keep the process alive; a busy one does (its job's promise is pending).
    // unref() after the listeners: adding a 'message' listener refs the port again.
    worker.unref()
    return slot
  }

  private onMessage(slot: Slot, msg: WorkerMessage): void {
    const busy = slot.busy
    if (msg.type === 'need-file-number') {
      if (busy) slot.worker.postMessage({ type: 'file-number', request: msg.request, number: busy.newFileNumber() })
      return
    }
    if (busy === undefined || busy.id !== msg.id) return
    slot.busy = undefined
    slot.worker.unref()
    if (msg.type === 'done') busy.resolve({ ...msg.result, tables: msg.result.tables.map(reviveTableMeta) })
    else busy.reject(reviveError(msg.error))
    this.dispatch()
  }

  private onExit(slot: Slot, cause: unknown): void {
    const index = this.slots.indexOf(slot)
    if (index < 0) return
    this.slots.splice(index, 1)
    const busy = slot.busy
    slot.busy = undefined
    if (busy) busy.reject(new StrataError(ErrorCode.IO, 'a background worker died during a job', { cause }))
    this.dispatch()
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.busy === undefined)
      if (slot === undefined && this.slots.length < this.size) {
        slot = this.spawn()
        this.slots.push(slot)
      }
      if (slot === undefined) return
      const next = this.queue.shift()!
      slot.busy = next
      slot.worker.ref()
      const transfer = next.job.type === 'flush' ? [next.job.entries.buffer as ArrayBuffer] : []
      slot.worker.postMessage({ type: 'job', id: next.id, job: next.job }, transfer)
    }
  }
}

const sharedPool = new WorkerPool()

/** A tree's handle on the shared worker pool. */
export class WorkerRunner implements JobRunner {
  readonly kind = 'worker'
  running = 0
  private closed = false
  private readonly token = {}

  constructor(threads: number, private readonly newFileNumber: () => number) {
    sharedPool.reserve(threads)
  }

  async run(job: Job): Promise<JobResult> {
    if (this.closed) throw new StrataError(ErrorCode.CLOSED, 'the job runner is closed')
    this.running++
    try {
      const tagged = this.newFileNumber
      const runner = this.token
      return await sharedPool.run(job, Object.assign(() => tagged(), { runner }))
    } finally {
      this.running--
    }
  }

  /** Test seam: kills every worker as a crash would (running jobs fail with IO). */
  async killWorkersForTest(): Promise<void> {
    await sharedPool.killAll()
  }

  async close(): Promise<void> {
    this.closed = true
    sharedPool.cancel(
      (p) => (p.newFileNumber as unknown as { runner?: object }).runner === this.token,
      new StrataError(ErrorCode.CLOSED, 'the job runner is closed'),
    )
  }
}
