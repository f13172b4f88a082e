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
import { toBuffer } from './base/bytes.js'
import { StrataError, ErrorCode, invalidArgument } from './errors.js'
import type { MergeOperator } from './merge/merge-operator.js'
import { BATCH_OPS_MAX, VALUE_BYTES_MAX } from './options.js'
import type { BatchOp } from './wal/batch-record.js'

export type KeyInput = Uint8Array | string

export function checkKey(key: KeyInput, what = 'key'): Buffer {
  if (typeof key !== 'string' && !(key instanceof Uint8Array)) {
    throw invalidArgument(`${what} must be a Uint8Array or a string`)
  }
  const buf = Buffer.from(toBuffer(key)) // owned copy: the caller may reuse its buffer
  if (buf.length < 1 || buf.length > KEY_BYTES_MAX) {
    throw invalidArgument(`${what} must be 1 to ${KEY_BYTES_MAX} bytes, got ${buf.length}`)
  }
  return buf
}

export function checkValue(value: KeyInput, what = 'value'): Buffer {
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
    throw invalidArgument(`${what} must be a Uint8Array or a string`)
  }
  const buf = Buffer.from(toBuffer(value))
  if (buf.length > VALUE_BYTES_MAX) throw invalidArgument(`${what} is over ${VALUE_BYTES_MAX} bytes`)
  return buf
}

interface PointOp {
  kind: KeyKind
  key: Buffer
  value: Buffer
}

/** Builds the coalesced op list of one batch. Knows nothing about trees. */
export class BatchBuilder {
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

  put(key: KeyInput, value: KeyInput): void {
    const k = checkKey(key)
    const v = checkValue(value)
    this.count()
    this.points.set(k.toString('latin1'), { kind: KeyKind.Put, key: k, value: v })
  }

  delete(key: KeyInput): void {
    const k = checkKey(key)
    this.count()
    this.points.set(k.toString('latin1'), { kind: KeyKind.Delete, key: k, value: Buffer.alloc(0) })
  }

  merge(key: KeyInput, operand: KeyInput): void {
    const op = this.mergeOperator
    if (!op) throw new StrataError(ErrorCode.NO_MERGE_OPERATOR, 'the tree has no merge operator')
    const k = checkKey(key)
    const v = checkValue(operand, 'operand')
    op.validateOperand(v)
    this.count()
    const id = k.toString('latin1')
    const prev = this.points.get(id)
    if (prev === undefined) {
      this.points.set(id, { kind: KeyKind.Merge, key: k, value: v })
      return
    }
    const merger = op.start(k, v)
    if (prev.kind === KeyKind.Merge) {
      merger.mergeOlder(prev.value)
      this.points.set(id, { kind: KeyKind.Merge, key: k, value: merger.finish(false) })
      return
    }
    if (prev.kind === KeyKind.Put) merger.mergeOlder(prev.value)
    this.points.set(id, { kind: KeyKind.Put, key: k, value: merger.finish(true) })
  }

  deleteRange(start: KeyInput, end: KeyInput): void {
    const s = checkKey(start, 'start')
    const e = checkKey(end, 'end')
    const order = Buffer.compare(s, e)
    if (order > 0) throw invalidArgument('deleteRange needs start <= end')
    this.count()
    if (order === 0) return // an empty range deletes nothing (RocksDB semantics)
    for (const [id, op] of this.points) {
      if (Buffer.compare(op.key, s) >= 0 && Buffer.compare(op.key, e) < 0) this.points.delete(id)
    }
    this.ranges.push({ start: s, end: e })
  }

  /** The coalesced ops: range deletes first, then point ops (order within a seqno is irrelevant). */
  ops(): BatchOp[] {
    const out: BatchOp[] = this.ranges.map((r) => ({ kind: KeyKind.RangeDelete, key: r.start, value: r.end }))
    for (const op of this.points.values()) out.push({ kind: op.kind, key: op.key, value: op.value })
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
