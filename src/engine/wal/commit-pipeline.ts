/**
 * Group commit. Writers enqueue encoded batches; one drain loop writes every batch queued so
 * far with ONE append and ONE fsync, inserts them into the memtable (while the fsync runs on
 * the threadpool), then publishes the group's last seqno and resolves its writers. Batches
 * queued while an fsync is in flight form the next group, so concurrent writers share fsyncs
 * (leveldb DBImpl::Write writer queue).
 *
 * Invariants:
 * - Seqnos are assigned at enqueue, in call order, and groups are written in that order; so
 *   the WAL, the memtable and the published seqno all advance in seqno order.
 * - A seqno is published (made visible to reads) only after its group is durable per the sync
 *   policy: fsynced under 'always', written to the OS under 'none'. Memtable entries above the
 *   published seqno exist but no read sees them (every read is bounded by the published seqno).
 * - After a WAL failure every queued and later write is rejected with the failure; nothing
 *   already resolved is affected. The host puts the tree into read-only mode.
 */
import { assert } from '../base/assert.js'
import type { SyncPolicy } from '../options.js'
import { encodeBatchRecord, type BatchOp } from './batch-record.js'
import type { LogWriter } from './log-writer.js'

export interface CommitHost {
  readonly syncPolicy: SyncPolicy
  /** Runs before each group is written; may rotate the memtable and its WAL. */
  beforeGroup(): Promise<void>
  /** The WAL the next group goes to. */
  currentWal(): LogWriter
  /** Inserts a committed batch into the memtable. */
  apply(seqno: number, ops: readonly BatchOp[]): void
  /** Makes everything up to `seqno` visible. */
  publish(seqno: number): void
  /** Called once with the first WAL failure. */
  fail(error: unknown): void
  /** Notified of each durable group (replication's WAL stream hooks in here later). */
  onDurable?(seqno: number, records: readonly Buffer[]): void
}

interface Pending {
  barrier?: undefined
  seqno: number
  ops: readonly BatchOp[]
  record: Buffer
  resolve: (seqno: number) => void
  reject: (error: unknown) => void
}

/** Work that must run between groups, with no group in flight (memtable rotation). */
interface Barrier {
  barrier: () => Promise<void>
  resolve: () => void
  reject: (error: unknown) => void
}

/** Bytes of records per group: bounds one append and the memory a group pins. */
const GROUP_BYTES_MAX = 4 * 1024 * 1024

/** Longest stretch of back-to-back commits without an event-loop turn (see markTurn). */
const FAIRNESS_SLICE_MS = 1

/** What the pipeline did since the tree was opened (tree.stats().commits). */
export interface CommitCounts {
  /** Groups written: each is ONE WAL append. */
  groups: number
  /** Batches (writes) in those groups. */
  batches: number
  /** WAL fsyncs the groups waited for (sync 'always'): batches / walSyncs is group commit's sharing. */
  walSyncs: number
}

export class CommitPipeline {
  /** Counters of the work done (read by tree.stats()). */
  readonly counts: CommitCounts = { groups: 0, batches: 0, walSyncs: 0 }
  private queue: (Pending | Barrier)[] = []
  private draining = false
  private failure: unknown = undefined
  private idleWaiters: (() => void)[] = []
  /** When the event loop last turned (see writeGroup's fairness yield). */
  private sliceStartMs = performance.now()
  private turnMarkerPending = false

  constructor(private readonly host: CommitHost, private lastAssigned: number) {}

  /** The highest seqno handed out (not necessarily durable yet). */
  get lastAssignedSeqno(): number {
    return this.lastAssigned
  }

  get pendingCount(): number {
    return this.queue.length
  }

  commit(ops: readonly BatchOp[]): Promise<number> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    assert(ops.length > 0, 'empty batches are answered by the caller')
    const seqno = ++this.lastAssigned
    const record = encodeBatchRecord(seqno, ops)
    this.markTurn()
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ seqno, ops, record, resolve, reject })
      if (!this.draining) {
        this.draining = true
        queueMicrotask(() => void this.drain())
      }
    })
  }

  /** Runs `fn` after every write queued so far is written and before any later one. */
  barrier(fn: () => Promise<void>): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ barrier: fn, resolve, reject })
      if (!this.draining) {
        this.draining = true
        queueMicrotask(() => void this.drain())
      }
    })
  }

  /** Resolves once everything queued so far has been written (or failed). */
  idle(): Promise<void> {
    if (!this.draining) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private takeGroup(): Pending[] {
    let bytes = 0
    let n = 0
    for (; n < this.queue.length; n++) {
      const item = this.queue[n]!
      if (item.barrier !== undefined) break
      if (n > 0 && bytes + item.record.length > GROUP_BYTES_MAX) break
      bytes += item.record.length
    }
    return this.queue.splice(0, n) as Pending[]
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && this.failure === undefined) {
      const head = this.queue[0]!
      if (head.barrier !== undefined) {
        this.queue.shift()
        await head.barrier().then(head.resolve, head.reject)
        continue
      }
      const group = this.takeGroup()
      try {
        await this.writeGroup(group)
      } catch (error) {
        this.failure = error
        this.host.fail(error)
        for (const p of group) p.reject(error)
      }
    }
    if (this.failure !== undefined) {
      for (const p of this.queue.splice(0)) p.reject(this.failure)
    }
    this.draining = false
    for (const w of this.idleWaiters.splice(0)) w()
  }

  /**
   * Notes the next turn of the event loop. With sync 'none' a commit resolves without any I/O
   * wait, so `for (...) await tree.put(...)` runs entirely in microtasks and would starve timers
   * and sockets for as long as the loop lasts (seconds, measured: 4 s gaps during a 1 M fill).
   * A setImmediate marker records each real turn; writeGroup yields once a slice passes without one.
   */
  private markTurn(): void {
    if (this.turnMarkerPending) return
    this.turnMarkerPending = true
    setImmediate(() => {
      this.turnMarkerPending = false
      this.sliceStartMs = performance.now()
    })
  }

  private async writeGroup(group: Pending[]): Promise<void> {
    if (performance.now() - this.sliceStartMs > FAIRNESS_SLICE_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      this.sliceStartMs = performance.now()
    }
    await this.host.beforeGroup()
    const records = group.map((p) => p.record)
    const wal = this.host.currentWal()
    wal.addRecords(records)
    // The fsync runs on the threadpool while this thread inserts the group into the memtable:
    // the bytes are already in the OS, and nothing inserted is visible before publish().
    const synced = this.host.syncPolicy === 'always' ? wal.sync() : undefined
    try {
      for (const p of group) this.host.apply(p.seqno, p.ops)
    } catch (error) {
      await synced?.catch(() => undefined) // never leave the sync's rejection unhandled
      throw error
    }
    if (synced !== undefined) {
      await synced
      this.counts.walSyncs++
    }
    this.counts.groups++
    this.counts.batches += group.length
    const last = group[group.length - 1]!.seqno
    this.host.publish(last)
    this.host.onDurable?.(last, records)
    for (const p of group) p.resolve(p.seqno)
  }
}
