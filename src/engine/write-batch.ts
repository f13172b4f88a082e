/**
 * WriteBatch: ops applied atomically at ONE sequence number.
 *
 * Because every op of a batch shares the batch's seqno, two ops on the same key would be
 * indistinguishable in the LSM. So the batch coalesces at build time, in op order:
 * - a later put/delete of a key replaces an earlier op of that key;
 * - a merge after a put/delete of the same key becomes a put of the folded value; a merge after
 *   a merge becomes one merge of the combined operand (merge operators are associative);
 * - a deleteRange removes the batch's earlier point ops inside the range (a range tombstone at
 *   seqno S only hides entries with seqno < S, so without this an earlier put of the same batch
 *   would survive its own later deleteRange). Point ops after the deleteRange stay, as they
 *   should: they come later in the batch.
 * The result is exactly what applying the ops one by one would have produced.
 */
import { KEY_BYTES_MAX, KeyKind } from './base/internal-key.js'
import { compareBytes, toBuffer } from './base/bytes.js'
import { StrataError, ErrorCode, invalidArgument } from './errors.js'
import type { MergeOperator } from './merge/merge-operator.js'
import { BATCH_OPS_MAX, VALUE_BYTES_MAX } from './options.js'
import type { BatchOp } from './wal/batch-record.js'

export type KeyInput = Uint8Array | string

export function checkKey(key: KeyInput, what = 'key'): Buffer {
  if (typeof key !== 'string' && !(key instanceof Uint8Array)) {
    throw invalidArgument(`${what} must be a Uint8Array or a string`)
  }
  // An owned copy (the caller may reuse its buffer); a string's encoding is one already.
  const buf = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(toBuffer(key))
  if (buf.length < 1 || buf.length > KEY_BYTES_MAX) {
    throw invalidArgument(`${what} must be 1 to ${KEY_BYTES_MAX} bytes, got ${buf.length}`)
  }
  return buf
}

export function checkValue(value: KeyInput, what = 'value'): Buffer {
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
    throw invalidArgument(`${what} must be a Uint8Array or a string`)
  }
  const buf = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(toBuffer(value))
  if (buf.length > VALUE_BYTES_MAX) throw invalidArgument(`${what} is over ${VALUE_BYTES_MAX} bytes`)
  return buf
}

const EMPTY = Buffer.alloc(0)

interface PointOp {
  kind: KeyKind
  key: Buffer
  value: Buffer
}

/**
 * Builds the coalesced op list of one batch. Knows nothing about trees.
 *
 * While every point key comes after the previous one (a sorted batch, the common bulk load)
 * the keys are distinct and nothing can coalesce: ops go to a plain array, with no Map entry
 * and no string per key. The first key out of order (or a deleteRange) moves them to the Map.
 */
export class BatchBuilder {
  /** Point ops in order of strictly increasing keys; undefined once `points` took over. */
  private ordered: PointOp[] | undefined = []
  private readonly points = new Map<string, PointOp>()
  private ranges: { start: Buffer; end: Buffer }[] = []
  private opCount = 0

  constructor(private readonly mergeOperator: MergeOperator | undefined) {}

  get size(): number {
    return this.opCount
  }

  private count(): void {
    if (++this.opCount > BATCH_OPS_MAX) throw invalidArgument(`a batch holds at most ${BATCH_OPS_MAX} ops`)
  }

  /** True while ops are kept in order and `key` comes after every key so far. */
  private follows(key: Buffer): boolean {
    const ordered = this.ordered
    if (ordered === undefined) return false
    const last = ordered[ordered.length - 1]
    return last === undefined || compareBytes(last.key, key) < 0
  }

  /** Moves the ordered ops to the Map (from now on every op goes there). */
  private useMap(): void {
    if (this.ordered === undefined) return
    for (const op of this.ordered) this.points.set(op.key.toString('latin1'), op)
    this.ordered = undefined
  }

  private setPoint(op: PointOp): void {
    if (this.follows(op.key)) {
      this.ordered!.push(op)
      return
    }
    this.useMap()
    this.points.set(op.key.toString('latin1'), op)
  }

  /** The batch's earlier point op of `key`, if any. */
  private pointOf(key: Buffer): PointOp | undefined {
    if (this.follows(key)) return undefined
    this.useMap()
    return this.points.get(key.toString('latin1'))
  }

  put(key: KeyInput, value: KeyInput): void {
    const k = checkKey(key)
    const v = checkValue(value)
    this.count()
    this.setPoint({ kind: KeyKind.Put, key: k, value: v })
  }

  delete(key: KeyInput): void {
    const k = checkKey(key)
    this.count()
    this.setPoint({ kind: KeyKind.Delete, key: k, value: EMPTY })
  }

  merge(key: KeyInput, operand: KeyInput): void {
    const op = this.mergeOperator
    if (!op) throw new StrataError(ErrorCode.NO_MERGE_OPERATOR, 'the tree has no merge operator')
    const k = checkKey(key)
    const v = checkValue(operand, 'operand')
    op.validateOperand(v)
    this.count()
    const prev = this.pointOf(k)
    if (prev === undefined) {
      this.setPoint({ kind: KeyKind.Merge, key: k, value: v })
      return
    }
    const merger = op.start(k, v)
    if (prev.kind === KeyKind.Merge) {
      merger.mergeOlder(prev.value)
      this.setPoint({ kind: KeyKind.Merge, key: k, value: merger.finish(false) })
      return
    }
    if (prev.kind === KeyKind.Put) merger.mergeOlder(prev.value)
    this.setPoint({ kind: KeyKind.Put, key: k, value: merger.finish(true) })
  }

  deleteRange(start: KeyInput, end: KeyInput): void {
    const s = checkKey(start, 'start')
    const e = checkKey(end, 'end')
    const order = Buffer.compare(s, e)
    if (order > 0) throw invalidArgument('deleteRange needs start <= end')
    this.count()
    if (order === 0) return // an empty range deletes nothing (RocksDB semantics)
    this.useMap()
    for (const [id, op] of this.points) {
      if (Buffer.compare(op.key, s) >= 0 && Buffer.compare(op.key, e) < 0) this.points.delete(id)
    }
    this.ranges.push({ start: s, end: e })
  }

  /** The coalesced ops: range deletes first, then point ops (order within a seqno is irrelevant). */
  ops(): BatchOp[] {
    const out: BatchOp[] = this.ranges.map((r) => ({ kind: KeyKind.RangeDelete, key: r.start, value: r.end }))
    for (const op of this.ordered ?? this.points.values()) out.push(op)
    return out
  }
}

/** The public batch: `tree.batch().put(k, v).delete(k).write()`. */
export class WriteBatch {
  private written = false

  constructor(
    private readonly builder: BatchBuilder,
    private readonly commit: (ops: BatchOp[]) => Promise<number>,
  ) {}

  get length(): number {
    return this.builder.size
  }

  put(key: KeyInput, value: KeyInput): this {
    this.builder.put(key, value)
    return this
  }

  delete(key: KeyInput): this {
    this.builder.delete(key)
    return this
  }

  deleteRange(start: KeyInput, end: KeyInput): this {
    this.builder.deleteRange(start, end)
    return this
  }

  merge(key: KeyInput, operand: KeyInput): this {
    this.builder.merge(key, operand)
    return this
  }

  /** Commits every op atomically; resolves with the batch's seqno once durable per the tree's sync policy. */
  write(): Promise<number> {
    if (this.written) return Promise.reject(invalidArgument('a batch can be written once'))
    this.written = true
    return this.commit(this.builder.ops())
  }
}
