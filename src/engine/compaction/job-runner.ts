/**
 * Where background jobs run. WorkerRunner keeps a small pool of worker threads (the event loop
 * is never blocked by table building: DESIGN.md); InlineRunner runs the same job code on the
 * main thread and is used when the Vfs is not the node one (MemVfs and FaultVfs live in this
 * thread's memory) or the merge operator is a custom object a worker cannot rebuild.
 *
 * A worker that dies mid-job (crash, OOM) rejects that job with an IO error and is replaced;
 * its partial output files are never referenced by any Version and are removed at next open.
 */
import { Worker } from 'node:worker_threads'
import { StrataError, ErrorCode } from '../errors.js'
import type { MergeOperator } from '../merge/merge-operator.js'
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
  ) {}

  async run(job: Job): Promise<JobResult> {
    this.running++
    try {
      return await runJob(job, { vfs: this.vfs, newFileNumber: this.newFileNumber, mergeOperator: this.mergeOperator })
    } finally {
      this.running--
    }
  }

  async close(): Promise<void> {}
}

interface Slot {
  worker: Worker
  busy: { id: number; resolve: (r: JobResult) => void; reject: (e: unknown) => void } | undefined
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

export class WorkerRunner implements JobRunner {
  readonly kind = 'worker'
  private readonly slots: Slot[] = []
  private readonly queue: { job: Job; id: number; resolve: (r: JobResult) => void; reject: (e: unknown) => void }[] = []
  private nextId = 1
  private closed = false

  constructor(size: number, private readonly newFileNumber: () => number) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn())
  }

  get running(): number {
    return this.slots.filter((s) => s.busy !== undefined).length
  }

  run(job: Job): Promise<JobResult> {
    if (this.closed) return Promise.reject(new StrataError(ErrorCode.CLOSED, 'the job runner is closed'))
    return new Promise((resolve, reject) => {
      this.queue.push({ job, id: this.nextId++, resolve, reject })
      this.dispatch()
    })
  }

  private spawn(): Slot {
    const worker = new Worker(workerUrl())
    worker.unref()
    const slot: Slot = { worker, busy: undefined }
    worker.on('message', (msg: WorkerMessage) => this.onMessage(slot, msg))
    worker.on('error', (error) => this.onExit(slot, error))
    worker.on('exit', (code) => this.onExit(slot, new Error(`worker exited with code ${code}`)))
    return slot
  }

  private onMessage(slot: Slot, msg: WorkerMessage): void {
    if (msg.type === 'need-file-number') {
      slot.worker.postMessage({ type: 'file-number', request: msg.request, number: this.newFileNumber() })
      return
    }
    const busy = slot.busy
    if (busy === undefined || busy.id !== msg.id) return
    slot.busy = undefined
    if (msg.type === 'done') busy.resolve({ ...msg.result, tables: msg.result.tables.map(reviveTableMeta) })
    else busy.reject(reviveError(msg.error))
    this.dispatch()
  }

  private onExit(slot: Slot, cause: unknown): void {
    const index = this.slots.indexOf(slot)
    if (index < 0) return
    const busy = slot.busy
    slot.busy = undefined
    if (busy) busy.reject(new StrataError(ErrorCode.IO, 'a background worker died during a job', { cause }))
    if (this.closed) {
      this.slots.splice(index, 1)
      return
    }
    this.slots[index] = this.spawn()
    this.dispatch()
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.busy !== undefined) continue
      const next = this.queue.shift()
      if (next === undefined) return
      slot.busy = { id: next.id, resolve: next.resolve, reject: next.reject }
      const transfer = next.job.type === 'flush' ? [next.job.entries.buffer as ArrayBuffer] : []
      slot.worker.postMessage({ type: 'job', id: next.id, job: next.job }, transfer)
    }
  }

  /** Test seam: kills every worker as a crash would (running jobs fail with IO). */
  async killWorkersForTest(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()))
  }

  async close(): Promise<void> {
    this.closed = true
    for (const q of this.queue.splice(0)) q.reject(new StrataError(ErrorCode.CLOSED, 'the job runner is closed'))
    await Promise.all(this.slots.map((s) => s.worker.terminate()))
    this.slots.length = 0
  }
}
