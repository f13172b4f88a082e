/**
 * Golden bytes for the WAL formats, derived by hand from the layouts in docs/format/wal.md
 * (the crc values from a bit-by-bit CRC-32C written separately from base/crc32c.ts, then
 * masked: rot15(crc) + 0xa282ead8). If one of these changes, the on-disk format changed.
 */
import t from 'tap'

import { KeyKind } from '../../../src/engine/base/internal-key.js'
import { decodeBatchRecord, encodeBatchRecord, type BatchOp } from '../../../src/engine/wal/batch-record.js'
import { readLogRecords } from '../../../src/engine/wal/log-reader.js'
import { LogWriter } from '../../../src/engine/wal/log-writer.js'
import { RecordingFile } from '../../helpers/wal-files.js'

// Chunk 1 at offset 0: FULL 'hello'.
//   crc32c(01 68 65 6c 6c 6f) = 0x6719daea, masked 0x5857b90b -> LE 0b b9 57 58
//   length 5 -> 05 00; type FULL -> 01; payload 68 65 6c 6c 6f
// Chunk 2 at offset 12: FULL, empty.
//   crc32c(01) = 0xa016d052, masked 0x43282b05 -> LE 05 2b 28 43
//   length 0 -> 00 00; type FULL -> 01
const LOG_GOLDEN = '0bb95758' + '0500' + '01' + '68656c6c6f' + '052b2843' + '0000' + '01'

// seqno 2^32 + 7 -> u64 LE 07 00 00 00 01 00 00 00; op count 4 -> 04 00 00 00
// Put 'k1'='v1'      -> 01 | 02 6b 31 | 02 76 31
// Delete 'k2'        -> 00 | 02 6b 32
// Merge 'k3' op 'x'  -> 02 | 02 6b 33 | 01 78
// RangeDelete [a, b) -> 03 | 01 61 | 01 62
const BATCH_GOLDEN =
  '0700000001000000' + '04000000' +
  '01' + '026b31' + '027631' +
  '00' + '026b32' +
  '02' + '026b33' + '0178' +
  '03' + '0161' + '0162'

const BATCH_OPS: BatchOp[] = [
  { kind: KeyKind.Put, key: Buffer.from('k1'), value: Buffer.from('v1') },
  { kind: KeyKind.Delete, key: Buffer.from('k2'), value: Buffer.alloc(0) },
  { kind: KeyKind.Merge, key: Buffer.from('k3'), value: Buffer.from('x') },
  { kind: KeyKind.RangeDelete, key: Buffer.from('a'), value: Buffer.from('b') },
]

t.test('log file: FULL "hello" then an empty record', async (t) => {
  const file = new RecordingFile()
  const writer = new LogWriter(file, '000001.log')
  writer.addRecord(Buffer.from('hello'))
  writer.addRecord(new Uint8Array(0))
  t.equal(file.data.toString('hex'), LOG_GOLDEN)
  const result = readLogRecords(Buffer.from(LOG_GOLDEN, 'hex'), '000001.log')
  t.same(result.records.map(String), ['hello', ''])
  t.same(result.offsets, [0, 12])
  t.equal(result.validBytes, 19)
  t.equal(result.droppedTailBytes, 0)
})

t.test('batch record: one op of each kind', async (t) => {
  t.equal(encodeBatchRecord(2 ** 32 + 7, BATCH_OPS).toString('hex'), BATCH_GOLDEN)
  const decoded = decodeBatchRecord(Buffer.from(BATCH_GOLDEN, 'hex'), '000001.log', 0)
  t.equal(decoded.seqno, 2 ** 32 + 7)
  t.same(decoded.ops, BATCH_OPS)
})

t.test('batch record: a two-byte varint value length', async (t) => {
  // seqno 1, count 1, Put 'k' = 130 x aa: 01 | 01 6b | 82 01 (130 = 0x02 | 1 << 7) | aa...
  const golden = '0100000000000000' + '01000000' + '01' + '016b' + '8201' + 'aa'.repeat(130)
  const ops: BatchOp[] = [{ kind: KeyKind.Put, key: Buffer.from('k'), value: Buffer.alloc(130, 0xaa) }]
  t.equal(encodeBatchRecord(1, ops).toString('hex'), golden)
  t.same(decodeBatchRecord(Buffer.from(golden, 'hex'), '000001.log', 0).ops, ops)
})
