/**
 * ModelHarness: drives a real Tree and a TreeModel side by side and checks that every read of
 * the tree equals the model's answer. It is the "act and compare" half of the model tests; the
 * random choice of what to do is model-random.ts.
 *
 * Invariants kept by the harness:
 * - Every write resolves with a seqno; the model applies it at that seqno, and tree.seqno always
 *   equals model.seqno once no write is in flight.
 * - Reads at an explicit seqno are made only where the API allows them: a held snapshot's
 *   seqno, or a seqno in [horizon, tree.seqno], where horizon is the tree's own
 *   oldestReadableSeqno (raised at open and by every compaction, background ones included).
 *   Older seqnos must fail with SEQNO_UNAVAILABLE.
 * - A mismatch throws ModelMismatch carrying the seed and the recent actions, so the failure
 *   can be replayed with STRATA_SEED=<seed>.
 */
import { ErrorCode, isStrataError } from '../../src/engine/index.js'
import type { Snapshot, Tree, TreeIterator } from '../../src/engine/index.js'
import type { Prng } from './prng.js'
import { TreeModel, type ModelEntry, type ModelOp, type ModelOperatorName, type ModelScanOptions } from './tree-model.js'

/** Recent actions kept for failure messages. */
const LOG_ENTRIES_MAX = 25

export class ModelMismatch extends Error {
  override name = 'ModelMismatch'
}

export type DrainMode = 'all' | 'next' | 'nextv' | 'for-of' | 'for-await'
export const DRAIN_MODES: readonly DrainMode[] = ['all', 'next', 'nextv', 'for-of', 'for-await']

export function describeKey(key: Buffer | undefined): string {
  return key === undefined ? '-' : `<${key.toString('hex')}>`
}

export function describeValue(value: Buffer | undefined): string {
  if (value === undefined) return 'undefined'
  const hex = value.toString('hex')
  return hex.length > 40 ? `<${hex.slice(0, 40)}...(${value.length} bytes)>` : `<${hex}>`
}

export function describeOp(op: ModelOp): string {
  switch (op.type) {
    case 'put':
      return `put ${describeKey(op.key)}=${describeValue(op.value)}`
    case 'delete':
      return `delete ${describeKey(op.key)}`
    case 'merge':
      return `merge ${describeKey(op.key)} ${describeValue(op.operand)}`
    case 'deleteRange':
      return `deleteRange [${describeKey(op.start)}, ${describeKey(op.end)})`
  }
}

export function describeScan(options: ModelScanOptions): string {
  const parts: string[] = []
  for (const name of ['gt', 'gte', 'lt', 'lte', 'prefix'] as const) {
    const v = options[name]
    if (v !== undefined) parts.push(`${name}=${describeKey(v)}`)
  }
  if (options.reverse === true) parts.push('reverse')
  if (options.limit !== undefined) parts.push(`limit=${options.limit}`)
  if (options.seqno !== undefined) parts.push(`seqno=${options.seqno}`)
  return `{${parts.join(' ')}}`
}

/** The first difference between two entry lists, or undefined when equal. */
export function diffEntries(actual: readonly ModelEntry[], expected: readonly ModelEntry[]): string | undefined {
  const n = Math.max(actual.length, expected.length)
  for (let i = 0; i < n; i++) {
    const a = actual[i]
    const e = expected[i]
    if (a !== undefined && e !== undefined && a[0].equals(e[0]) && a[1].equals(e[1])) continue
    const show = (x: ModelEntry | undefined): string => (x === undefined ? 'end' : `${describeKey(x[0])}=${describeValue(x[1])}`)
    return `entry ${i} of ${actual.length} (expected ${expected.length}): got ${show(a)}, expected ${show(e)}`
  }
  return undefined
}

/** Reads every remaining entry of `it` in the given way; every mode ends with `it` closed. */
export async function drain(it: TreeIterator, mode: DrainMode, chunkSize = 3): Promise<ModelEntry[]> {
  const out: ModelEntry[] = []
  switch (mode) {
    case 'all':
      return it.all()
    case 'next':
      for (let e = it.next(); e !== undefined; e = it.next()) out.push(e)
      it.close()
      return out
    case 'nextv':
      for (let batch = it.nextv(chunkSize); batch.length > 0; batch = it.nextv(chunkSize)) out.push(...batch)
      it.close()
      return out
    case 'for-of':
      for (const e of it) out.push(e)
      return out
    case 'for-await':
      for await (const e of it) out.push(e)
      return out
  }
}

interface HeldIterator {
  it: TreeIterator
  expected: ModelEntry[]
  position: number
  description: string
}

export interface HarnessOptions {
  /** The seed of this run's Prng. */
  seed: number
  /** The STRATA_SEED that replays the whole test file (it derives `seed`). */
  replaySeed: number
  operator?: ModelOperatorName
  /** Opens the tree (the same directory and vfs every time). */
  open: () => Promise<Tree>
}

export class ModelHarness {
  tree!: Tree
  readonly model: TreeModel
  readonly snapshots: Snapshot[] = []
  /** The engine's own horizon: reads below it need a held snapshot (background compaction raises it). */
  get horizon(): number {
    return this.tree.oldestReadableSeqno
  }
  step = 0
  /** Flushes and compactions of closed incarnations (stats() restarts at each open), and reopens. */
  readonly totals = { flushes: 0, compactions: 0, reopens: 0 }
  private readonly log: string[] = []
  private readonly held: HeldIterator[] = []

  constructor(private readonly options: HarnessOptions) {
    this.model = new TreeModel(options.operator)
  }

  async start(): Promise<void> {
    this.tree = await this.options.open()
    this.check(this.tree.seqno === this.model.seqno, `fresh tree has seqno ${this.tree.seqno}`)
  }

  note(action: string): void {
    this.log.push(`#${this.step} ${action}`)
    if (this.log.length > LOG_ENTRIES_MAX) this.log.shift()
  }

  fail(message: string): never {
    throw new ModelMismatch(
      `run seed=${this.options.seed} step=${this.step}: ${message}\n` +
        `replay: STRATA_SEED=${this.options.replaySeed}\nrecent actions:\n  ${this.log.join('\n  ')}`,
    )
  }

  /** Rethrows an engine error with the seed, step and recent actions (a ModelMismatch as is). */
  rethrow(error: unknown): never {
    if (error instanceof ModelMismatch) throw error
    const e = error as Error
    this.fail(`engine error: ${e?.stack ?? String(error)}`)
  }

  check(ok: boolean, message: string): void {
    if (!ok) this.fail(message)
  }

  // ---- writes ----

  /** Submits `ops` as single calls (one op) or as one batch; resolves with the seqno. */
  submit(ops: readonly ModelOp[], asBatch: boolean): Promise<number> {
    const tree = this.tree
    const only = ops[0]
    if (!asBatch && ops.length === 1 && only !== undefined) {
      switch (only.type) {
        case 'put':
          return tree.put(only.key, only.value)
        case 'delete':
          return tree.delete(only.key)
        case 'merge':
          return tree.merge(only.key, only.operand)
        case 'deleteRange':
          return tree.deleteRange(only.start, only.end)
      }
    }
    const batch = tree.batch()
    for (const op of ops) {
      if (op.type === 'put') batch.put(op.key, op.value)
      else if (op.type === 'delete') batch.delete(op.key)
      else if (op.type === 'merge') batch.merge(op.key, op.operand)
      else batch.deleteRange(op.start, op.end)
    }
    return batch.write()
  }

  /** Writes one op or batch and applies it to the model. */
  async write(ops: readonly ModelOp[], asBatch: boolean): Promise<void> {
    this.note(`${asBatch ? 'batch' : 'write'} ${ops.map(describeOp).join('; ')}`)
    const before = this.model.seqno
    const seqno = await this.submit(ops, asBatch)
    if (!this.model.apply(seqno, ops)) {
      this.check(seqno === before, `an empty write returned seqno ${seqno}, expected the current ${before}`)
    }
    this.check(this.tree.seqno === this.model.seqno, `tree.seqno ${this.tree.seqno} != model seqno ${this.model.seqno}`)
  }

  /**
   * Writes several non-empty batches concurrently (group commit), optionally while a flush or a
   * compaction runs, and applies them to the model in seqno order.
   */
  async writeConcurrent(groups: readonly (readonly ModelOp[])[], background?: 'flush' | 'compact'): Promise<void> {
    this.note(`concurrent${background ? ` with ${background}` : ''} ${groups.map((g) => `[${g.map(describeOp).join('; ')}]`).join(' ')}`)
    const job = background === 'flush' ? this.tree.flush() : background === 'compact' ? this.tree.compact() : undefined
    const seqnos = await Promise.all(groups.map((g) => this.submit(g, g.length > 1)))
    await job
    // A compaction that overlapped the writes may have collapsed history up to any of them.
    const order = groups.map((ops, i) => ({ ops, seqno: seqnos[i]! })).sort((a, b) => a.seqno - b.seqno)
    for (let i = 1; i < order.length; i++) {
      this.check(order[i]!.seqno > order[i - 1]!.seqno, `concurrent writes share seqno ${order[i]!.seqno}`)
    }
    for (const { ops, seqno } of order) {
      this.check(this.model.apply(seqno, ops), 'a concurrent write was empty')
    }
    this.check(this.tree.seqno === this.model.seqno, `tree.seqno ${this.tree.seqno} != newest write ${this.model.seqno}`)
  }

  // ---- reads ----

  /** The seqnos a read may name: held snapshots and [horizon, tree.seqno]. */
  readableSeqno(prng: Prng): number {
    if (this.snapshots.length > 0 && prng.bool(0.5)) return prng.pick(this.snapshots).seqno
    return prng.range(this.horizon, this.tree.seqno)
  }

  checkGet(key: Buffer, seqno?: number): void {
    const actual = seqno === undefined ? this.tree.get(key) : this.tree.get(key, { seqno })
    const expected = this.model.get(key, seqno)
    const same = actual === undefined ? expected === undefined : expected !== undefined && actual.equals(expected)
    this.check(
      same,
      `get ${describeKey(key)} at ${seqno ?? 'latest'}: got ${describeValue(actual)}, expected ${describeValue(expected)}`,
    )
  }

  async checkScan(options: ModelScanOptions, mode: DrainMode): Promise<void> {
    this.note(`scan ${describeScan(options)} via ${mode}`)
    const actual = await drain(this.tree.iterator(options), mode)
    const diff = diffEntries(actual, this.model.scan(options))
    if (diff !== undefined) this.fail(`scan ${describeScan(options)} via ${mode}: ${diff}`)
  }

  /** Reads `before` entries, then seeks to each target in turn reading a few entries after it. */
  checkSeek(options: ModelScanOptions, before: number, targets: readonly Buffer[], after: number): void {
    this.note(`seek ${describeScan(options)} before=${before} targets=${targets.map(describeKey).join(',')}`)
    const it = this.tree.iterator(options)
    try {
      const head = it.nextv(before)
      const headDiff = diffEntries(head, this.model.scan({ ...options, limit: before }))
      if (headDiff !== undefined) this.fail(`seek test ${describeScan(options)} before seeking: ${headDiff}`)
      for (const target of targets) {
        it.seek(target)
        const got = it.nextv(after)
        const diff = diffEntries(got, this.model.scanFrom(target, options).slice(0, after))
        if (diff !== undefined) this.fail(`after seek(${describeKey(target)}) ${describeScan(options)}: ${diff}`)
      }
    } finally {
      it.close()
    }
  }

  /** A seqno below the horizon that no snapshot pins must be refused with SEQNO_UNAVAILABLE. */
  checkUnavailable(prng: Prng): void {
    if (this.horizon === 0) return
    const seqno = prng.int(this.horizon)
    if (this.snapshots.some((s) => s.seqno === seqno)) return
    try {
      this.tree.get(Buffer.from('k'), { seqno })
    } catch (error) {
      this.check(isStrataError(error, ErrorCode.SEQNO_UNAVAILABLE), `get at seqno ${seqno} < horizon threw ${String(error)}`)
      return
    }
    this.fail(`get at seqno ${seqno} below the horizon ${this.horizon} was not refused`)
  }

  // ---- held iterators (read incrementally while other work goes on) ----

  openHeldIterator(options: ModelScanOptions): void {
    const description = describeScan(options)
    this.note(`open held iterator ${description}`)
    this.held.push({ it: this.tree.iterator(options), expected: this.model.scan(options), position: 0, description })
  }

  get heldIterators(): number {
    return this.held.length
  }

  /** Advances held iterator `index` by up to `count` entries; closes it once exhausted. */
  advanceHeldIterator(index: number, count: number): void {
    const h = this.held[index]
    if (h === undefined) return
    for (let i = 0; i < count; i++) {
      const got = h.it.next()
      const want = h.expected[h.position]
      const diff = diffEntries(got === undefined ? [] : [got], want === undefined ? [] : [want])
      if (diff !== undefined) this.fail(`held iterator ${h.description} at position ${h.position}: ${diff}`)
      if (got === undefined) {
        h.it.close()
        this.held.splice(index, 1)
        return
      }
      h.position++
    }
  }

  closeHeldIterators(): void {
    for (const h of this.held) h.it.close()
    this.held.length = 0
  }

  // ---- snapshots, flush, compaction, reopen ----

  takeSnapshot(): void {
    const snap = this.tree.snapshot()
    this.note(`snapshot at ${snap.seqno}`)
    this.check(snap.seqno === this.model.seqno, `snapshot seqno ${snap.seqno} != newest ${this.model.seqno}`)
    this.snapshots.push(snap)
  }

  releaseSnapshot(index: number): void {
    const [snap] = this.snapshots.splice(index, 1)
    if (snap === undefined) return
    this.note(`release snapshot ${snap.seqno}`)
    snap.release()
    snap.release() // idempotent
  }

  async flush(): Promise<void> {
    this.note('flush')
    await this.tree.flush()
  }

  async compact(): Promise<void> {
    this.note('compact')
    await this.tree.compact()
  }

  /** Closes and reopens the tree; snapshots do not survive it. */
  async reopen(): Promise<void> {
    this.note('reopen')
    this.closeHeldIterators()
    this.addTotals()
    this.totals.reopens++
    await this.tree.close()
    this.snapshots.length = 0
    this.tree = await this.options.open()
    this.check(this.tree.seqno === this.model.seqno, `reopened at seqno ${this.tree.seqno}, expected ${this.model.seqno}`)
  }

  /** Full comparison: scans and every key's get, at the newest seqno and at every snapshot. */
  async verifyAll(): Promise<void> {
    this.note('verify all')
    this.check(this.tree.seqno === this.model.seqno, `tree.seqno ${this.tree.seqno} != model ${this.model.seqno}`)
    const seqnos: (number | undefined)[] = [undefined, ...new Set(this.snapshots.map((s) => s.seqno))]
    for (const seqno of seqnos) {
      const options = seqno === undefined ? {} : { seqno }
      await this.checkScan(options, 'all')
      await this.checkScan({ ...options, reverse: true }, 'next')
      for (const key of this.model.keys()) this.checkGet(key, seqno)
    }
  }

  private addTotals(): void {
    const stats = this.tree.stats()
    this.totals.flushes += stats.flushes
    this.totals.compactions += stats.compactions
  }

  async close(): Promise<void> {
    this.closeHeldIterators()
    for (const s of this.snapshots) s.release()
    this.snapshots.length = 0
    await this.tree.close()
  }
}
