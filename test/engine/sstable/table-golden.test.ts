/**
 * Golden bytes of a tiny table: two entries ('a'#1 Put 'x', 'b'#2 Put 'y'), no filter, no
 * compression, file number 1, creation time 0. Every byte below was derived by hand from
 * docs/format/sstable.md; the four checksums were computed with a separate bitwise crc32c
 * (not the engine's slice-by-8 one), which this test re-implements and re-checks.
 */
import t from 'tap'
import { KeyKind } from '../../../src/engine/base/internal-key.js'
import { writeTable, openTable, scanForward } from '../../helpers/sstable-tables.js'

const HEADER =
  '5354524154535354' + // magic "STRATSST"
  '01000000' + // format version 1
  '00000000' + // flags
  '00000000000000000000000000000000' // salt (16 zero bytes)

const DATA_BLOCK = // @32, size 34
  '000901' + '61' + '00000000000001' + '01' + '78' + // shared 0, unshared 9, value 1 | 'a' seqno 1 Put | 'x'
  '000901' + '62' + '00000000000002' + '01' + '79' + // shared 0 ('a' vs 'b'), unshared 9, value 1 | 'b'#2 Put | 'y'
  '00000000' + '01000000' + // restarts [0], count 1
  '00' + '8931321d' // trailer: type None, masked crc32c

const PROPERTIES_BLOCK = // @71, size 42
  '010101' + '020101' + '030102' + '040100' + '050101' + // version 1, file 1, entries 2, tombstones 0, blocks 1
  '060102' + '070102' + '080101' + '090102' + // raw key bytes 2, raw value bytes 2, seqnos 1..2
  '0a0161' + '0b0162' + '0c046e6f6e65' + '0d0100' + // smallest 'a', largest 'b', 'none', time 0
  '00' + 'e62617f8'

const INDEX_BLOCK = // @118, size 22
  '000902' + '62' + '00000000000002' + '01' + '2022' + // key 'b'#2 Put (the block's last key) -> handle (32, 34)
  '00000000' + '01000000' +
  '00' + 'e07000ad'

const FOOTER = // @145
  '7600000000000000' + '16000000' + // index (118, 22)
  '4700000000000000' + '2a000000' + // properties (71, 42)
  '0000000000000000' + '00000000' + // no filter
  '0000000000000000' + '00000000' + // no range-del
  '01000000' + // version 1
  '8a5cca76' + // masked crc32c of the 52 bytes above
  '5354524154535354'

const GOLDEN = HEADER + DATA_BLOCK + PROPERTIES_BLOCK + INDEX_BLOCK + FOOTER

/** Bitwise CRC-32C, independent of src/engine/base/crc32c.ts. */
function crc32cBitwise(data: Uint8Array): number {
  let crc = 0xffffffff
  for (const byte of data) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

function masked(data: Uint8Array): string {
  const c = crc32cBitwise(data)
  const out = Buffer.alloc(4)
  out.writeUInt32LE((((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0)
  return out.toString('hex')
}

t.test('the golden checksums are what the spec says', async (t) => {
  const golden = Buffer.from(GOLDEN, 'hex')
  t.equal(golden.length, 209)
  t.equal(masked(golden.subarray(32, 32 + 35)), golden.subarray(67, 71).toString('hex'), 'data block crc')
  t.equal(masked(golden.subarray(71, 71 + 43)), golden.subarray(114, 118).toString('hex'), 'properties crc')
  t.equal(masked(golden.subarray(118, 118 + 23)), golden.subarray(141, 145).toString('hex'), 'index crc')
  t.equal(masked(golden.subarray(145, 145 + 52)), golden.subarray(197, 201).toString('hex'), 'footer crc')
})

t.test('the builder writes exactly the golden bytes, and the reader reads them', async (t) => {
  const entries = [
    { userKey: Buffer.from('a'), seqno: 1, kind: KeyKind.Put, value: Buffer.from('x') },
    { userKey: Buffer.from('b'), seqno: 2, kind: KeyKind.Put, value: Buffer.from('y') },
  ]
  const { vfs, path, built } = await writeTable(entries, [], { filterBitsPerKey: 0, compression: 'none', creationTimeMs: 0 }, 1)
  t.equal(vfs.fileData(path).toString('hex'), GOLDEN)
  t.equal(built.sizeBytes, 209)
  t.equal(built.checksum, crc32cBitwise(Buffer.from(GOLDEN, 'hex')), 'BuiltTable.checksum = unmasked crc32c of the file')
  t.equal(built.checksum, 0x0aa1f0bc)
  const reader = await openTable(vfs, path, 1)
  t.same(scanForward(reader.newIterator()).map((e) => [e.userKey.toString(), e.seqno, e.kind, e.value.toString()]),
    [['a', 1, KeyKind.Put, 'x'], ['b', 2, KeyKind.Put, 'y']])
  t.equal(reader.properties.compression, 'none')
  t.ok(reader.mayContain(Buffer.from('zzz')), 'no filter: every probe may match')
})
