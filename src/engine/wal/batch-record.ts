/**
 * The WAL record of one committed write batch (leveldb db/write_batch.cc). Every op of a batch
 * shares the batch's seqno; ops keep their order, so replay applies them as the commit did.
 *
 *   +----------------+----------------+-------+-------+-----+
 *   | seqno u64 LE   | op count u32 LE| op 0  | op 1  | ... |
 *   +----------------+----------------+-------+-------+-----+
 *     0              8               12
 *
 *   op:
 *   +---------+----------------+-----------+--------------------+-------------+
 *   | kind u8 | key len varint | key bytes | value len varint   | value bytes |
 *   +---------+----------------+-----------+--------------------+-------------+
 *                                           (Put, Merge, RangeDelete only; Delete stops at key)
 *
 *   kind   KeyKind: Delete 0, Put 1, Merge 2 (value = operand), RangeDelete 3 (key = start,
 *          value = end, half-open [start, end)); BlobIndex 4 never appears in a batch
 *   key    1..KEY_BYTES_MAX bytes; a RangeDelete end too, and start < end bytewise
 *   value  0..VALUE_BYTES_MAX bytes
 *   varint LEB128 (base/coding.ts)
 *
 * The record has no checksum of its own: the log framing checksums every chunk.
 *
 * Invariants:
 * - encodeBatchRecord computes the exact size first and writes into one Buffer.
 * - decodeBatchRecord checks every bound before allocating or slicing and rejects trailing
 *   bytes; the op count is bounded by the record length before any array grows.
 */
import { assert } from '../base/assert.js'
import { compareBytes } from '../base/bytes.js'
import {
  ByteReader,
  DecodeError,
  putVarint,
  readFixed64,
  varintLength,
  writeFixed64,
} from '../base/coding.js'
import { KEY_BYTES_MAX, KeyKind } from '../base/internal-key.js'
import { corruption } from '../errors.js'
import { BATCH_OPS_MAX, VALUE_BYTES_MAX } from '../options.js'
import { RECORD_BYTES_MAX } from './format.js'

export interface BatchOp {
  kind: KeyKind
  /** Put, Delete, Merge: the user key. RangeDelete: the start key (inclusive). */
  key: Buffer
  /** Put: the value. Delete: empty. Merge: the operand. RangeDelete: the end key (exclusive). */
  value: Buffer
}

/** seqno u64 + op count u32. */
export const BATCH_HEADER_BYTES = 12
/** The smallest op: kind u8 + key length varint (1 byte) + a 1-byte key (a Delete). */
const OP_BYTES_MIN = 3
const EMPTY = Buffer.alloc(0)

function hasValue(kind: KeyKind): boolean {
  return kind !== KeyKind.Delete
}

/** The kinds a batch may hold: everything but BlobIndex (written only by flush/compaction). */
function isBatchKind(kind: number): kind is KeyKind {
  return kind === KeyKind.Put || kind === KeyKind.Delete ||
    kind === KeyKind.Merge || kind === KeyKind.RangeDelete
}

/** Asserts one op is well formed (programmer errors: the write path validates user input). */
function assertOp(op: BatchOp): void {
  assert(isBatchKind(op.kind), 'batch op kind must be Put, Delete, Merge or RangeDelete')
  assert(op.key.length >= 1 && op.key.length <= KEY_BYTES_MAX, 'batch op key length out of range')
  assert(op.value.length <= VALUE_BYTES_MAX, 'batch op value longer than VALUE_BYTES_MAX')
  if (op.kind === KeyKind.Delete) assert(op.value.length === 0, 'a Delete carries no value')
  if (op.kind === KeyKind.RangeDelete) {
    assert(op.value.length >= 1 && op.value.length <= KEY_BYTES_MAX, 'range end length')
    assert(compareBytes(op.key, op.value) < 0, 'a RangeDelete needs start < end')
  }
}

/** Exact encoded size of a batch record holding `ops`; lets the write path bound a batch
 *  against RECORD_BYTES_MAX before encoding it. */
export function batchRecordBytes(ops: readonly BatchOp[]): number {
  assert(ops.length <= BATCH_OPS_MAX, 'batch has more than BATCH_OPS_MAX ops')
  let size = BATCH_HEADER_BYTES
  for (const op of ops) {
    size += 1 + varintLength(op.key.length) + op.key.length
    if (hasValue(op.kind)) size += varintLength(op.value.length) + op.value.length
  }
  assert(size >= BATCH_HEADER_BYTES + OP_BYTES_MIN * ops.length, 'size below the op minimum')
  return size
}

/**
 * Encodes a batch. Requires: seqno a safe non-negative integer, at most BATCH_OPS_MAX ops, each
 * op well formed (see the layout), encoded size <= RECORD_BYTES_MAX. Keys and values are copied.
 */
export function encodeBatchRecord(seqno: number, ops: readonly BatchOp[]): Buffer {
  assert(Number.isSafeInteger(seqno) && seqno >= 0, 'seqno out of range')
  for (const op of ops) assertOp(op)
  const size = batchRecordBytes(ops)
  assert(size <= RECORD_BYTES_MAX, 'batch record longer than RECORD_BYTES_MAX')
  const out = Buffer.allocUnsafe(size)
  writeFixed64(out, 0, seqno)
  out.writeUInt32LE(ops.length, 8)
  let position = BATCH_HEADER_BYTES
  for (const op of ops) {
    out[position++] = op.kind
    position = putVarint(out, position, op.key.length)
    out.set(op.key, position)
    position += op.key.length
    if (hasValue(op.kind)) {
      position = putVarint(out, position, op.value.length)
      out.set(op.value, position)
      position += op.value.length
    }
  }
  assert(position === size, 'batch record size differs from its computed size')
  return out
}

/**
 * Decodes a batch record read from log `fileName` (base name) at file offset `offset` (the
 * record's first chunk). Keys and values are VIEWS into `record`: copy them to outlive it.
 * Throws CORRUPTION naming the file and offset for any bound, kind or length violation.
 */
export function decodeBatchRecord(
  record: Buffer,
  fileName: string,
  offset: number,
): { seqno: number; ops: BatchOp[] } {
  assert(Buffer.isBuffer(record), 'record must be a Buffer')
  assert(Number.isSafeInteger(offset) && offset >= 0, 'record offset out of range')
  const fail = (message: string) => corruption(`batch record: ${message}`, fileName, offset)
  if (record.length < BATCH_HEADER_BYTES) {
    throw fail(`${record.length} bytes, shorter than its header`)
  }
  let seqno: number
  try {
    seqno = readFixed64(record, 0)
  } catch (err) {
    if (err instanceof DecodeError) throw fail('seqno beyond 2^53')
    throw err
  }
  const count = record.readUInt32LE(8)
  if (count > BATCH_OPS_MAX) throw fail(`op count ${count} over BATCH_OPS_MAX`)
  if (count * OP_BYTES_MIN > record.length - BATCH_HEADER_BYTES) {
    throw fail(`op count ${count} does not fit ${record.length} bytes`)
  }
  const reader = new ByteReader(record, BATCH_HEADER_BYTES)
  const ops: BatchOp[] = []
  try {
    for (let i = 0; i < count; i++) ops.push(decodeOp(reader, i, fail))
  } catch (err) {
    if (err instanceof DecodeError) throw fail(`malformed at byte ${err.offset}: ${err.message}`)
    throw err
  }
  if (!reader.done) throw fail(`${reader.remaining} trailing bytes after ${count} ops`)
  assert(ops.length === count, 'decoded op count')
  return { seqno, ops }
}

/** Decodes op number `index`; `fail` builds the CORRUPTION error. */
function decodeOp(reader: ByteReader, index: number, fail: (message: string) => Error): BatchOp {
  const start = reader.pos
  const kind = reader.u8()
  if (!isBatchKind(kind)) throw fail(`op ${index} at byte ${start} has invalid kind ${kind}`)
  const keyBytes = reader.varint()
  if (keyBytes < 1 || keyBytes > KEY_BYTES_MAX) {
    throw fail(`op ${index} key length ${keyBytes} out of range`)
  }
  const key = reader.bytes(keyBytes)
  if (kind === KeyKind.Delete) return { kind, key, value: EMPTY }
  const valueBytes = reader.varint()
  const valueMax = kind === KeyKind.RangeDelete ? KEY_BYTES_MAX : VALUE_BYTES_MAX
  if (valueBytes > valueMax) throw fail(`op ${index} value length ${valueBytes} over ${valueMax}`)
  const value = reader.bytes(valueBytes)
  if (kind === KeyKind.RangeDelete && compareBytes(key, value) >= 0) {
    throw fail(`op ${index} range delete end is not after its start`)
  }
  assert(reader.pos > start, 'decoding an op consumes bytes')
  return { kind, key, value }
}
