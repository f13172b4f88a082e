/**
 * TreeModel: a brute-force, multi-version model of a Strata tree for model-based tests
 * (fjall tests/model_*.rs, pebble metamorphic). It is the specification the engine is checked
 * against, so it is written to be obviously correct rather than fast.
 *
 * Semantics modelled (the public API contract):
 * - Every committed write batch gets one seqno (the one the tree returned); seqnos increase.
 * - A batch's ops apply IN ORDER, as if one by one, and the result becomes visible at the
 *   batch's seqno: a later op on a key wins; a merge folds onto whatever an earlier op of the
 *   same batch left; a deleteRange [start, end) removes every key in the range as it stands at
 *   that point of the batch (so earlier puts of the batch go, later ones stay).
 * - Merges fold eagerly onto the current value with the operator's own rules (reimplemented
 *   here, independent of the engine): counter = signed i64 LE sum, wrapping at 64 bits, a base
 *   that is not 8 bytes counts as 0; append = concatenation, older bytes first; max = bytewise
 *   maximum. Eager folding equals the engine's lazy folding because the operators are
 *   associative, which is exactly the law the engine relies on.
 *
 * Representation: per user key, its history as (seqno, value | undefined) ascending by seqno,
 * one entry per batch that changed it (undefined = absent). get(key, S) is the newest entry with
 * seqno <= S. A scan is a get of every key ever written, filtered and ordered.
 *
 * Invariants: histories are strictly ascending in seqno; `seqno` is the newest applied batch.
 */
import assert from 'node:assert/strict'

export type ModelOperatorName = 'counter' | 'append' | 'max'

export type ModelOp =
  | { type: 'put'; key: Buffer; value: Buffer }
  | { type: 'delete'; key: Buffer }
  | { type: 'deleteRange'; start: Buffer; end: Buffer }
  | { type: 'merge'; key: Buffer; operand: Buffer }

export interface ModelScanOptions {
  seqno?: number
  gt?: Buffer
  gte?: Buffer
  lt?: Buffer
  lte?: Buffer
  prefix?: Buffer
  reverse?: boolean
  limit?: number
}

export type ModelEntry = [key: Buffer, value: Buffer]

interface Version {
  seqno: number
  value: Buffer | undefined
}

interface KeyHistory {
  key: Buffer
  versions: Version[]
}

const I64_MASK = (1n << 64n) - 1n

function readCounter(data: Buffer | undefined): bigint {
  if (data === undefined || data.length !== 8) return 0n
  return data.readBigInt64LE(0)
}

/** The value after folding `operand` onto `base` (undefined: the key is absent). */
export function modelMerge(operator: ModelOperatorName, base: Buffer | undefined, operand: Buffer): Buffer {
  switch (operator) {
    case 'counter': {
      assert.equal(operand.length, 8, 'counter operands are 8 bytes')
      const out = Buffer.alloc(8)
      out.writeBigUInt64LE((readCounter(base) + readCounter(operand)) & I64_MASK, 0)
      return out
    }
    case 'append':
      return Buffer.concat(base === undefined ? [operand] : [base, operand])
    case 'max':
      if (base === undefined) return Buffer.from(operand)
      return Buffer.from(Buffer.compare(operand, base) > 0 ? operand : base)
  }
}

/** An i64 counter operand (little-endian two's complement). */
export function counterBytes(n: bigint | number): Buffer {
  const out = Buffer.alloc(8)
  out.writeBigInt64LE(BigInt.asIntN(64, BigInt(n)), 0)
  return out
}

/** True when `key` satisfies every bound of `options` (bounds are a conjunction). */
export function inBounds(key: Buffer, options: ModelScanOptions): boolean {
  const { gt, gte, lt, lte, prefix } = options
  if (gt !== undefined && Buffer.compare(key, gt) <= 0) return false
  if (gte !== undefined && Buffer.compare(key, gte) < 0) return false
  if (lt !== undefined && Buffer.compare(key, lt) >= 0) return false
  if (lte !== undefined && Buffer.compare(key, lte) > 0) return false
  if (prefix !== undefined && !key.subarray(0, prefix.length).equals(prefix)) return false
  return true
}

export class TreeModel {
  private readonly histories = new Map<string, KeyHistory>()
  /** Every key ever written, ascending; rebuilt lazily. */
  private sortedKeys: Buffer[] | undefined = []
  private lastSeqno: number

  constructor(
    readonly operator: ModelOperatorName | undefined = undefined,
    initialSeqno = 0,
  ) {
    this.lastSeqno = initialSeqno
  }

  /** The newest applied seqno. */
  get seqno(): number {
    return this.lastSeqno
  }

  /** Every key ever written (present or not), ascending. */
  keys(): Buffer[] {
    if (this.sortedKeys === undefined) {
      this.sortedKeys = [...this.histories.values()].map((h) => h.key).sort(Buffer.compare)
    }
    return this.sortedKeys
  }

  /**
   * Applies a committed batch at `seqno`. Returns false (and changes nothing) when the batch
   * changes nothing at all, e.g. only empty ranges: the engine then assigns no new seqno.
   */
  apply(seqno: number, ops: readonly ModelOp[]): boolean {
    if (!ops.some((op) => op.type !== 'deleteRange' || Buffer.compare(op.start, op.end) < 0)) return false
    assert.ok(Number.isSafeInteger(seqno) && seqno > this.lastSeqno, `seqno ${seqno} must exceed ${this.lastSeqno}`)
    const working = new Map<string, { key: Buffer; value: Buffer | undefined }>()
    const current = (key: Buffer): Buffer | undefined => {
      const id = key.toString('latin1')
      return working.has(id) ? working.get(id)!.value : this.get(key)
    }
    for (const op of ops) {
      switch (op.type) {
        case 'put':
          working.set(op.key.toString('latin1'), { key: op.key, value: op.value })
          break
        case 'delete':
          working.set(op.key.toString('latin1'), { key: op.key, value: undefined })
          break
        case 'merge': {
          assert.ok(this.operator !== undefined, 'a merge needs a model operator')
          const value = modelMerge(this.operator, current(op.key), op.operand)
          working.set(op.key.toString('latin1'), { key: op.key, value })
          break
        }
        case 'deleteRange':
          for (const key of this.allKeysWith(working)) {
            if (Buffer.compare(key, op.start) >= 0 && Buffer.compare(key, op.end) < 0) {
              working.set(key.toString('latin1'), { key, value: undefined })
            }
          }
          break
      }
    }
    for (const [id, { key, value }] of working) this.record(id, key, seqno, value)
    this.lastSeqno = seqno
    return true
  }

  /** The value of `key` at `seqno` (default: the newest), or undefined. */
  get(key: Buffer, seqno: number = this.lastSeqno): Buffer | undefined {
    const history = this.histories.get(key.toString('latin1'))
    if (history === undefined) return undefined
    const versions = history.versions
    let lo = 0
    let hi = versions.length // find the first version with seqno > `seqno`
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (versions[mid]!.seqno <= seqno) lo = mid + 1
      else hi = mid
    }
    return lo === 0 ? undefined : versions[lo - 1]!.value
  }

  /** Every present entry within the bounds at `options.seqno`, ordered, cut to `limit`. */
  scan(options: ModelScanOptions = {}): ModelEntry[] {
    const seqno = options.seqno ?? this.lastSeqno
    const out: ModelEntry[] = []
    for (const key of this.keys()) {
      if (!inBounds(key, options)) continue
      const value = this.get(key, seqno)
      if (value !== undefined) out.push([key, value])
    }
    if (options.reverse === true) out.reverse()
    return options.limit === undefined ? out : out.slice(0, options.limit)
  }

  /** What an iterator with `options` returns after seek(target): the in-bounds entries at or past
   *  `target` in iteration order (>= target forward, <= target reverse). No limit applied. */
  scanFrom(target: Buffer, options: ModelScanOptions = {}): ModelEntry[] {
    const all = this.scan({ ...options, limit: undefined })
    return all.filter(([key]) => {
      const c = Buffer.compare(key, target)
      return options.reverse === true ? c <= 0 : c >= 0
    })
  }

  /** Number of keys present at the newest seqno. */
  get size(): number {
    return this.scan().length
  }

  private allKeysWith(working: Map<string, { key: Buffer }>): Buffer[] {
    const keys = [...this.keys()]
    for (const [id, { key }] of working) if (!this.histories.has(id)) keys.push(key)
    return keys
  }

  private record(id: string, key: Buffer, seqno: number, value: Buffer | undefined): void {
    let history = this.histories.get(id)
    if (history === undefined) {
      history = { key: Buffer.from(key), versions: [] }
      this.histories.set(id, history)
      this.sortedKeys = undefined
    }
    const last = history.versions[history.versions.length - 1]
    assert.ok(last === undefined || last.seqno < seqno, 'histories ascend in seqno')
    history.versions.push({ seqno, value: value === undefined ? undefined : Buffer.from(value) })
  }
}
