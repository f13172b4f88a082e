/**
 * readLogRecords edge cases, after leveldb db/log_test.cc (names kept where a case maps), plus
 * Strata's recovery rule: a torn tail is dropped and reported, damage followed by any valid
 * chunk is CORRUPTION at the damaged chunk, a verified chunk that breaks the structure is
 * always CORRUPTION. Ends with seeded damage/truncation properties: the result is always a
 * prefix of what was written, or CORRUPTION; never different data.
 */
import t, { type Test } from 'tap'

import { isCorruption } from '../../../src/engine/errors.js'
import {
  BLOCK_BYTES,
  ChunkType,
  HEADER_BYTES,
  chunkChecksum,
} from '../../../src/engine/wal/format.js'
import { findValidChunk, readLogRecords, type LogReadResult } from '../../../src/engine/wal/log-reader.js'
import { frameRecords } from '../../../src/engine/wal/log-writer.js'
import { Prng, testSeed } from '../../helpers/prng.js'
import { bigRecord, withByte } from '../../helpers/wal-files.js'

const NAME = '000042.log'

function write(...records: (string | Buffer)[]): Buffer {
  return frameRecords(records.map((r) => (typeof r === 'string' ? Buffer.from(r) : r)), 0)
}

function read(data: Buffer): LogReadResult {
  return readLogRecords(data, NAME)
}

function texts(result: LogReadResult): string[] {
  return result.records.map((r) => r.toString())
}

/** Recomputes the crc of the chunk at `offset` (leveldb log_test FixChecksum). */
function fixChecksum(data: Buffer, offset: number): Buffer {
  const out = Buffer.from(data)
  const length = out.readUInt16LE(offset + 4)
  const type = out[offset + 6] as number
  out.writeUInt32LE(chunkChecksum(type, out, offset + HEADER_BYTES, offset + HEADER_BYTES + length), offset)
  return out
}

function setType(data: Buffer, offset: number, type: number): Buffer {
  return fixChecksum(withByte(data, offset + 6, () => type), offset)
}

function expectCorruption(t: Test, data: Buffer, offset: number, pattern: RegExp): void {
  let caught: unknown
  try {
    read(data)
  } catch (err) {
    caught = err
  }
  t.ok(isCorruption(caught), `CORRUPTION expected (${pattern})`)
  const err = caught as { file?: string; offset?: number; message: string }
  t.equal(err.file, NAME, 'names the file by its base name')
  t.equal(err.offset, offset, 'at the damaged chunk')
  t.match(err.message, pattern)
  t.match(err.message, NAME)
}

t.test('Empty', async (t) => {
  t.same(read(Buffer.alloc(0)), { records: [], offsets: [], validBytes: 0, droppedTailBytes: 0 })
})

t.test('ReadWrite', async (t) => {
  const result = read(write('foo', 'bar', '', 'xxxx'))
  t.same(texts(result), ['foo', 'bar', '', 'xxxx'])
  t.same(result.offsets, [0, 10, 20, 27])
  t.equal(result.droppedTailBytes, 0)
})

t.test('ManyBlocks', async (t) => {
  const records = Array.from({ length: 100_000 }, (_, i) => String(i))
  const data = write(...records)
  t.ok(data.length > 20 * BLOCK_BYTES)
  const got = texts(read(data))
  t.equal(got.length, records.length)
  t.ok(got.every((text, i) => text === records[i]), 'every record in order')
})

t.test('Fragmentation', async (t) => {
  const records = [Buffer.from('small'), bigRecord('medium', 50_000), bigRecord('large', 100_000)]
  t.same(read(write(...records)).records, records)
})

t.test('MarginalTrailer: a record ends with exactly a header left; an empty record fills it', async (t) => {
  const n = BLOCK_BYTES - 2 * HEADER_BYTES
  const data = write(bigRecord('foo', n), '', 'bar')
  const result = read(data)
  t.same(result.records.map((r) => r.length), [n, 0, 3])
  t.same(result.offsets, [0, BLOCK_BYTES - HEADER_BYTES, BLOCK_BYTES])
  t.equal(data.length, BLOCK_BYTES + HEADER_BYTES + 3)
})

t.test('MarginalTrailer2: the next record starts there with an empty FIRST', async (t) => {
  const n = BLOCK_BYTES - 2 * HEADER_BYTES
  const result = read(write(bigRecord('foo', n), 'bar'))
  t.same(result.records.map(String).map((s) => s.slice(0, 3)), ['foo', 'bar'])
  t.same(result.offsets, [0, BLOCK_BYTES - HEADER_BYTES])
  t.equal(result.droppedTailBytes, 0)
})

t.test('ShortTrailer: fewer than 7 bytes left are zero-filled', async (t) => {
  const n = BLOCK_BYTES - 2 * HEADER_BYTES + 4
  const data = write(bigRecord('foo', n), '', 'bar')
  t.equal(data.subarray(BLOCK_BYTES - 3, BLOCK_BYTES).toString('hex'), '000000')
  const result = read(data)
  t.same(result.records.map((r) => r.length), [n, 0, 3])
  t.same(result.offsets, [0, BLOCK_BYTES, BLOCK_BYTES + HEADER_BYTES])
})

t.test('AlignedEof: the file may end where a trailer would start', async (t) => {
  const n = BLOCK_BYTES - 2 * HEADER_BYTES + 4
  const data = write(bigRecord('foo', n))
  t.equal(data.length, BLOCK_BYTES - 3)
  const result = read(data)
  t.equal(result.records.length, 1)
  t.equal(result.validBytes, data.length)
  t.equal(result.droppedTailBytes, 0)
})

t.test('a file that ends inside trailer padding drops the padding only', async (t) => {
  const data = write(bigRecord('foo', BLOCK_BYTES - HEADER_BYTES - HEADER_BYTES + 1)) // ends at 32762
  const padded = Buffer.concat([data, Buffer.alloc(6)])
  const result = read(padded)
  t.equal(result.records.length, 1)
  t.equal(result.validBytes, BLOCK_BYTES - 6)
  t.equal(result.droppedTailBytes, 6)
})

t.test('BadRecordType: a verified chunk of unknown type is CORRUPTION, even at the end', async (t) => {
  expectCorruption(t, setType(write('foo'), 0, 100), 0, /unknown chunk type 100/)
  expectCorruption(t, setType(write('foo', 'bar'), 10, 5), 10, /unknown chunk type 5/)
  expectCorruption(t, setType(write('foo'), 0, 255), 0, /unknown chunk type/)
})

t.test('an unknown type whose checksum fails is a bad chunk (torn tail at the end)', async (t) => {
  const data = withByte(write('foo', 'bar'), 16, () => 100)
  const result = read(data)
  t.same(texts(result), ['foo'])
  t.equal(result.droppedTailBytes, 10)
})

t.test('TruncatedTrailingRecordIsIgnored', async (t) => {
  const data = write('foo')
  const result = read(data.subarray(0, data.length - 1))
  t.same(result.records, [])
  t.equal(result.validBytes, 0)
  t.equal(result.droppedTailBytes, 9)
})

t.test('a truncated header at the end is a torn tail', async (t) => {
  const data = write('foo', 'bar')
  for (let cut = 11; cut < 17; cut++) {
    const result = read(data.subarray(0, cut))
    t.same(texts(result), ['foo'], `cut at ${cut}`)
    t.equal(result.droppedTailBytes, cut - 10)
  }
})

t.test('BadLength: a length past the block followed by a valid chunk is CORRUPTION', async (t) => {
  const data = write(bigRecord('bar', BLOCK_BYTES - HEADER_BYTES), 'foo')
  t.equal(data.readUInt16LE(4), BLOCK_BYTES - HEADER_BYTES)
  const damaged = withByte(data, 4, (b) => b + 1)
  expectCorruption(t, damaged, 0, /length runs past its block.*valid chunk follows at offset 32768/)
})

t.test('BadLengthAtEndIsIgnored: a length past the block at the end is a torn tail', async (t) => {
  const data = write('foo', 'bar')
  const result = read(withByte(data, 14, () => 0xff)) // 'bar' claims 65283 bytes
  t.same(texts(result), ['foo'])
  t.equal(result.droppedTailBytes, 10)
})

t.test('ChecksumMismatch at the end is a torn tail', async (t) => {
  const result = read(withByte(write('foo'), 0, (b) => b + 10))
  t.same(result.records, [])
  t.equal(result.droppedTailBytes, 10)
})

t.test('ChecksumMismatch in the middle is CORRUPTION at that chunk', async (t) => {
  const data = write('foo', 'bar', 'baz')
  const first = withByte(data, 0, (b) => b ^ 1)
  expectCorruption(t, first, 0, /checksum mismatch; a valid chunk follows at offset 10/)
  expectCorruption(t, withByte(data, 17, (b) => b ^ 0x80), 10, /checksum mismatch/)
  const last = read(withByte(data, 27, (b) => b ^ 1))
  t.same(texts(last), ['foo', 'bar'], 'damage in the last record is a torn tail')
})

t.test('checksum mismatch inside a multi-block record names that chunk', async (t) => {
  const data = write(bigRecord('a', 100_000), 'after')
  expectCorruption(t, withByte(data, BLOCK_BYTES + 500, (b) => b ^ 4), BLOCK_BYTES, /checksum mismatch/)
  expectCorruption(t, withByte(data, 2 * BLOCK_BYTES + 6, () => 0), 2 * BLOCK_BYTES, /zero-filled/)
})

t.test('UnexpectedMiddleType and UnexpectedLastType are CORRUPTION', async (t) => {
  expectCorruption(t, setType(write('foo'), 0, ChunkType.Middle), 0, /MIDDLE chunk without a FIRST/)
  expectCorruption(t, setType(write('foo'), 0, ChunkType.Last), 0, /LAST chunk without a FIRST/)
  expectCorruption(t, setType(write('foo', 'bar'), 10, ChunkType.Last), 10, /LAST chunk without a FIRST/)
})

t.test('UnexpectedFullType and UnexpectedFirstType: an open record is CORRUPTION', async (t) => {
  const open = setType(write('foo', 'bar'), 0, ChunkType.First)
  expectCorruption(t, open, 0, /no LAST chunk; a new record starts at offset 10/)
  const data = setType(write('foo', bigRecord('x', 100_000)), 0, ChunkType.First)
  expectCorruption(t, data, 0, /no LAST chunk/)
})

t.test('MissingLastIsIgnored: FIRST without LAST at the end is a torn tail', async (t) => {
  const data = write('ok', bigRecord('bar', BLOCK_BYTES))
  const result = read(data.subarray(0, data.length - 14))
  t.same(texts(result), ['ok'])
  t.equal(result.validBytes, 9)
  t.equal(result.droppedTailBytes, data.length - 14 - 9)
})

t.test('PartialLastIsIgnored: a truncated LAST is a torn tail', async (t) => {
  const data = write(bigRecord('bar', BLOCK_BYTES))
  const result = read(data.subarray(0, data.length - 1))
  t.same(result.records, [])
  t.equal(result.droppedTailBytes, data.length - 1)
})

t.test('ErrorJoinsRecords: a wiped block between records is CORRUPTION, never a joined record', async (t) => {
  const data = write(bigRecord('foo', BLOCK_BYTES), bigRecord('bar', BLOCK_BYTES), 'correct')
  const wiped = Buffer.from(data)
  wiped.fill('x', BLOCK_BYTES, 2 * BLOCK_BYTES)
  expectCorruption(t, wiped, BLOCK_BYTES, /valid chunk follows at offset 65536/)
})

t.test('a zero-filled tail (preallocation) is dropped', async (t) => {
  const data = write('foo', bigRecord('b', 40_000))
  const result = read(Buffer.concat([data, Buffer.alloc(100_000)]))
  t.equal(result.records.length, 2)
  t.equal(result.validBytes, data.length)
  t.equal(result.droppedTailBytes, 100_000)
})

t.test('zeros followed by a valid chunk are CORRUPTION', async (t) => {
  const data = write('foo', 'bar', bigRecord('c', 70_000), 'last')
  const zeroed = Buffer.from(data)
  zeroed.fill(0, 10, 4096) // a lost sector inside block 0
  expectCorruption(t, zeroed, 10, /zero-filled chunk header; a valid chunk follows at offset 32768/)
  const zeroBlock = Buffer.from(data)
  zeroBlock.fill(0, BLOCK_BYTES, 2 * BLOCK_BYTES)
  expectCorruption(t, zeroBlock, BLOCK_BYTES, /zero-filled/)
})

t.test('a damaged length: the scan resumes at the next byte, so later records are never hidden', async (t) => {
  const data = write('foo', 'bar', 'baz')
  // 'foo' now claims 13 bytes: its crc fails; 'bar' lies inside the claimed span.
  expectCorruption(t, withByte(data, 4, () => 13), 0, /valid chunk follows at offset 10/)
  // A claimed span that runs to (or past) the end of the file must not hide 'bar' and 'baz':
  // treating it as a torn tail would silently drop acknowledged records.
  expectCorruption(t, withByte(data, 4, () => 23), 0, /valid chunk follows at offset 10/)
  expectCorruption(t, withByte(data, 5, () => 0xff), 0, /valid chunk follows at offset 10/)
})

t.test('a torn record whose payload holds log-framed bytes is reported, never silently dropped', async (t) => {
  // The trade-off of scanning from the next byte (docs/format/wal.md): a torn tail whose partial
  // payload happens to contain a valid log chunk reads as corruption, loudly.
  const inner = write(...Array.from({ length: 2000 }, (_, i) => `inner ${i}`))
  const payload = Buffer.concat([inner, inner, inner]).subarray(0, 90_000)
  const data = write('before', payload)
  t.throws(() => read(data.subarray(0, BLOCK_BYTES + 20_000)), { code: 'CORRUPTION' })
  // Plain payload (no framed bytes inside) torn anywhere is still a torn tail.
  const plain = write('before', Buffer.alloc(90_000, 7))
  const cut = read(plain.subarray(0, BLOCK_BYTES + 20_000))
  t.same(texts(cut), ['before'], 'truncated inside a MIDDLE chunk')
  const flipped = read(withByte(plain, 2 * BLOCK_BYTES + 100, (b) => b ^ 1))
  t.same(texts(flipped), ['before'], 'checksum mismatch in the last record')
  t.equal(flipped.validBytes, 13)
})

t.test('findValidChunk skips trailers and needs a verified checksum', async (t) => {
  const data = write('foo', bigRecord('x', BLOCK_BYTES - 22), 'bar') // 5-byte trailer before 'bar'
  t.equal(findValidChunk(data, 0), 0)
  t.equal(findValidChunk(data, 1), 10)
  t.equal(findValidChunk(data, 11), BLOCK_BYTES)
  t.equal(findValidChunk(data, BLOCK_BYTES + 1), -1)
  t.equal(findValidChunk(Buffer.alloc(BLOCK_BYTES * 2), 0), -1)
  t.equal(findValidChunk(write('foo', 'bar').subarray(0, 19), 1), -1, 'a chunk cut by the end')
})

/** Mostly small records, one in five up to 70 KiB (spanning blocks). */
function randomRecords(prng: Prng, count: number): Buffer[] {
  return Array.from({ length: count }, () => prng.bytes(prng.bool(0.2) ? prng.int(70_000) : prng.int(300)))
}

t.test('random damage: a prefix of the records, or CORRUPTION (seeded)', async (t) => {
  const seed = testSeed()
  t.comment(`seed ${seed} (replay with STRATA_SEED=${seed})`)
  const prng = new Prng(seed)
  const records = randomRecords(prng, 40)
  const data = write(...records)
  let corrupt = 0
  let torn = 0
  for (let i = 0; i < 300; i++) {
    const offset = prng.int(data.length)
    const damaged = withByte(data, offset, (b) => b ^ (1 << prng.int(8)))
    try {
      const result = read(damaged)
      const prefix = result.records.every((r, k) => r.equals(records[k] as Buffer))
      t.ok(prefix, `seed ${seed}: flip at ${offset} gives a prefix`)
      if (result.records.length < records.length) torn++
      t.equal(result.validBytes + result.droppedTailBytes, damaged.length)
    } catch (err) {
      t.ok(isCorruption(err), `seed ${seed}: flip at ${offset} is CORRUPTION`)
      corrupt++
    }
  }
  t.comment(`${corrupt} corruption errors, ${torn} torn tails`)
  t.ok(corrupt > 0)
})

t.test('random truncation: always a prefix, never an error (seeded)', async (t) => {
  const seed = testSeed()
  t.comment(`seed ${seed} (replay with STRATA_SEED=${seed})`)
  const prng = new Prng(seed)
  const records = randomRecords(prng, 30)
  const data = write(...records)
  const cuts = Array.from({ length: 300 }, () => prng.int(data.length + 1))
  for (let cut = BLOCK_BYTES - 20; cut < BLOCK_BYTES + 20; cut++) cuts.push(cut)
  for (const cut of cuts) {
    const result = read(data.subarray(0, cut))
    const prefix = result.records.every((r, k) => r.equals(records[k] as Buffer))
    t.ok(prefix && result.validBytes <= cut, `seed ${seed}: cut at ${cut}`)
  }
})
