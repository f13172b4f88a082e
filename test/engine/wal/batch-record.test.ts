/**
 * Batch records: round trips (each kind, seeded random batches), exact sizing, views into the
 * record, every decode bound (CORRUPTION naming the file and the record's offset), and the
 * encoder's assertions.
 */
import t, { type Test } from 'tap'

import { AssertionError } from '../../../src/engine/base/assert.js'
import { KEY_BYTES_MAX, KeyKind } from '../../../src/engine/base/internal-key.js'
import { isCorruption } from '../../../src/engine/errors.js'
import { BATCH_OPS_MAX, VALUE_BYTES_MAX } from '../../../src/engine/options.js'
import {
  BATCH_HEADER_BYTES,
  batchRecordBytes,
  decodeBatchRecord,
  encodeBatchRecord,
  type BatchOp,
} from '../../../src/engine/wal/batch-record.js'
import { Prng, testSeed } from '../../helpers/prng.js'

const NAME = '000009.log'
const b = (s: string) => Buffer.from(s)
const put = (k: string, v: string): BatchOp => ({ kind: KeyKind.Put, key: b(k), value: b(v) })
const del = (k: string): BatchOp => ({ kind: KeyKind.Delete, key: b(k), value: Buffer.alloc(0) })
const merge = (k: string, v: string): BatchOp => ({ kind: KeyKind.Merge, key: b(k), value: b(v) })
const range = (s: string, e: string): BatchOp => ({ kind: KeyKind.RangeDelete, key: b(s), value: b(e) })

function expectCorruption(t: Test, record: Buffer, pattern: RegExp): void {
  let caught: unknown
  try {
    decodeBatchRecord(record, NAME, 4096)
  } catch (err) {
    caught = err
  }
  t.ok(isCorruption(caught), `CORRUPTION expected (${pattern})`)
  const err = caught as { file?: string; offset?: number; message: string }
  t.equal(err.file, NAME)
  t.equal(err.offset, 4096, 'the record offset given by the caller')
  t.match(err.message, pattern)
}

/** A header with `count` ops followed by raw op bytes. */
function raw(seqno: number, count: number, ...ops: number[][]): Buffer {
  const header = Buffer.alloc(BATCH_HEADER_BYTES)
  header.writeUInt32LE(seqno, 0)
  header.writeUInt32LE(count, 8)
  return Buffer.concat([header, Buffer.from(ops.flat())])
}

t.test('one op of each kind round trips', async (t) => {
  const ops = [put('k1', 'v1'), del('k2'), merge('k3', 'x'), range('a', 'b'), put('empty', '')]
  const record = encodeBatchRecord(77, ops)
  t.equal(record.length, batchRecordBytes(ops))
  const decoded = decodeBatchRecord(record, NAME, 0)
  t.equal(decoded.seqno, 77)
  t.same(decoded.ops, ops)
})

t.test('seqnos across the u32 halves and up to 2^53 - 1', async (t) => {
  for (const seqno of [0, 1, 0xffff_ffff, 0x1_0000_0000, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) {
    t.equal(decodeBatchRecord(encodeBatchRecord(seqno, [del('k')]), NAME, 0).seqno, seqno)
  }
})

t.test('an empty batch is 12 bytes', async (t) => {
  const record = encodeBatchRecord(5, [])
  t.equal(record.length, BATCH_HEADER_BYTES)
  t.same(decodeBatchRecord(record, NAME, 0), { seqno: 5, ops: [] })
})

t.test('keys and values at their bounds; varint lengths of 1..3 bytes', async (t) => {
  const ops: BatchOp[] = [
    { kind: KeyKind.Put, key: Buffer.alloc(KEY_BYTES_MAX, 1), value: Buffer.alloc(200_000, 2) },
    { kind: KeyKind.Merge, key: Buffer.alloc(127, 3), value: Buffer.alloc(128, 4) },
    {
      kind: KeyKind.RangeDelete,
      key: Buffer.alloc(KEY_BYTES_MAX - 1, 5),
      value: Buffer.alloc(KEY_BYTES_MAX, 5),
    },
  ]
  const record = encodeBatchRecord(9, ops)
  const putBytes = 1 + 3 + KEY_BYTES_MAX + 3 + 200_000
  const mergeBytes = 1 + 1 + 127 + 2 + 128
  const rangeBytes = 1 + 3 + KEY_BYTES_MAX - 1 + 3 + KEY_BYTES_MAX
  t.equal(record.length, BATCH_HEADER_BYTES + putBytes + mergeBytes + rangeBytes)
  t.same(decodeBatchRecord(record, NAME, 0).ops, ops)
})

t.test('random batches round trip (seeded)', async (t) => {
  const seed = testSeed()
  t.comment(`seed ${seed} (replay with STRATA_SEED=${seed})`)
  const prng = new Prng(seed)
  for (let round = 0; round < 200; round++) {
    const ops: BatchOp[] = Array.from({ length: prng.int(30) }, () => {
      const kind = prng.pick([KeyKind.Put, KeyKind.Delete, KeyKind.Merge, KeyKind.RangeDelete])
      const key = prng.bytes(prng.range(1, prng.bool(0.1) ? 3000 : 20))
      if (kind === KeyKind.Delete) return { kind, key, value: Buffer.alloc(0) }
      if (kind === KeyKind.RangeDelete) {
        return { kind, key, value: Buffer.concat([key, prng.bytes(prng.range(1, 5))]) }
      }
      return { kind, key, value: prng.bytes(prng.bool(0.1) ? prng.int(20_000) : prng.int(40)) }
    })
    const seqno = prng.int(2 ** 31) * 2 ** 21 + prng.int(2 ** 21)
    const record = encodeBatchRecord(seqno, ops)
    t.equal(record.length, batchRecordBytes(ops))
    const decoded = decodeBatchRecord(record, NAME, 0)
    t.ok(decoded.seqno === seqno && decoded.ops.length === ops.length, `seed ${seed} round ${round}`)
    t.ok(decoded.ops.every((op, i) => {
      const want = ops[i] as BatchOp
      return op.kind === want.kind && op.key.equals(want.key) && op.value.equals(want.value)
    }), `seed ${seed} round ${round}: ops equal`)
  }
})

t.test('decoded keys and values are views into the record; encoding copies', async (t) => {
  const key = b('key')
  const record = encodeBatchRecord(1, [put('key', 'value')])
  key[0] = 0x58
  const decoded = decodeBatchRecord(record, NAME, 0)
  t.equal(decoded.ops[0]?.key.toString(), 'key', 'encoding copied the key')
  record[BATCH_HEADER_BYTES + 2] = 0x4b // 'k' -> 'K'
  t.equal(decoded.ops[0]?.key.toString(), 'Key', 'decoded key is a view')
})

t.test('truncation at every length is CORRUPTION', async (t) => {
  const record = encodeBatchRecord(3, [put('k1', 'v1'), del('k2'), merge('k3', 'x'), range('a', 'b')])
  for (let n = 0; n < record.length; n++) {
    const cut = record.subarray(0, n)
    t.throws(() => decodeBatchRecord(cut, NAME, 0), { code: 'CORRUPTION', file: NAME }, `length ${n}`)
  }
})

t.test('every bound is checked', async (t) => {
  expectCorruption(t, Buffer.alloc(11), /shorter than its header/)
  const bigSeqno = Buffer.alloc(BATCH_HEADER_BYTES)
  bigSeqno.writeUInt32LE(0x20_0000, 4)
  expectCorruption(t, bigSeqno, /seqno beyond 2\^53/)
  expectCorruption(t, raw(1, BATCH_OPS_MAX + 1), /over BATCH_OPS_MAX/)
  expectCorruption(t, raw(1, 2, [0, 1, 0x61]), /op count 2 does not fit/)
  expectCorruption(t, raw(1, 1, [0, 1, 0x61], [0, 1, 0x62]), /3 trailing bytes after 1 ops/)
  expectCorruption(t, raw(1, 1, [KeyKind.BlobIndex, 1, 0x61, 0]), /invalid kind 4/)
  expectCorruption(t, raw(1, 1, [9, 1, 0x61]), /invalid kind 9/)
  expectCorruption(t, raw(1, 1, [KeyKind.Delete, 0, 0]), /key length 0 out of range/)
  expectCorruption(t, raw(1, 1, [KeyKind.Delete, 0x80, 0x80, 0x04, 0]), /key length 65536 out of range/)
  const tooLong = VALUE_BYTES_MAX + 1 // varint 0x80 0x80 0x80 0x80 0x01 (2^28 + 1 needs 5 bytes)
  const varint: number[] = []
  for (let v = tooLong; v >= 0x80; v = Math.floor(v / 128)) varint.push((v & 0x7f) | 0x80)
  varint.push(Math.floor(tooLong / 128 ** varint.length))
  expectCorruption(t, raw(1, 1, [KeyKind.Put, 1, 0x61, ...varint]), /value length 268435457 over 268435456/)
  const longEnd = [KeyKind.RangeDelete, 1, 0x61, 0x80, 0x80, 0x04]
  expectCorruption(t, raw(1, 1, longEnd), /value length 65536 over 65535/)
  expectCorruption(t, raw(1, 1, [KeyKind.RangeDelete, 1, 0x62, 1, 0x61]), /end is not after its start/)
  expectCorruption(t, raw(1, 1, [KeyKind.RangeDelete, 1, 0x61, 1, 0x61]), /end is not after its start/)
  expectCorruption(t, raw(1, 1, [KeyKind.RangeDelete, 1, 0x61, 0]), /end is not after its start/)
  const shortValue = [KeyKind.Put, 1, 0x61, 5, 0x61]
  expectCorruption(t, raw(1, 1, shortValue), /malformed at byte 16: need 5 bytes, 1 left/)
  const longVarint = [KeyKind.Put, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
  expectCorruption(t, raw(1, 1, longVarint), /malformed.*varint too long/)
})

t.test('the encoder asserts its inputs', async (t) => {
  t.throws(() => encodeBatchRecord(-1, [del('k')]), AssertionError)
  t.throws(() => encodeBatchRecord(2 ** 53, [del('k')]), AssertionError)
  t.throws(() => encodeBatchRecord(1, [put('', 'v')]), AssertionError)
  const longKey = Buffer.alloc(KEY_BYTES_MAX + 1)
  t.throws(() => encodeBatchRecord(1, [{ kind: KeyKind.Put, key: longKey, value: b('') }]), AssertionError)
  t.throws(() => encodeBatchRecord(1, [{ kind: KeyKind.Delete, key: b('k'), value: b('v') }]), AssertionError)
  const blob: BatchOp = { kind: KeyKind.BlobIndex, key: b('k'), value: b('v') }
  t.throws(() => encodeBatchRecord(1, [blob]), AssertionError)
  t.throws(() => encodeBatchRecord(1, [range('b', 'a')]), AssertionError)
  t.throws(() => encodeBatchRecord(1, [range('a', 'a')]), AssertionError)
})
