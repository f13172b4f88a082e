/**
 * LogWriter + readLogRecords: round trips (random records of 0..100 KiB across block
 * boundaries, seeded), the chunk structure the writer produces, one append per group,
 * continuing an existing file, failure handling, and a crash round trip on MemVfs.
 */
import t from 'tap'

import { AssertionError } from '../../../src/engine/base/assert.js'
import { isStrataError } from '../../../src/engine/errors.js'
import { MemVfs } from '../../../src/engine/vfs/mem-vfs.js'
import {
  BLOCK_BYTES,
  CHUNK_PAYLOAD_BYTES_MAX,
  ChunkType,
  HEADER_BYTES,
  framedEnd,
} from '../../../src/engine/wal/format.js'
import { readLogRecords } from '../../../src/engine/wal/log-reader.js'
import { LogWriter, frameRecords } from '../../../src/engine/wal/log-writer.js'
import { Prng, testSeed } from '../../helpers/prng.js'
import { RecordingFile, bigRecord } from '../../helpers/wal-files.js'

interface Chunk { offset: number; length: number; type: number }

/** An independent walk over well-formed framing: the chunks in file order. */
function chunksOf(data: Buffer): Chunk[] {
  const chunks: Chunk[] = []
  let p = 0
  while (p < data.length) {
    const remaining = BLOCK_BYTES - (p % BLOCK_BYTES)
    if (remaining < HEADER_BYTES) {
      t.ok(data.subarray(p, p + remaining).every((b) => b === 0), `trailer at ${p} is zero-filled`)
      p += remaining
      continue
    }
    const length = data.readUInt16LE(p + 4)
    chunks.push({ offset: p, length, type: data[p + 6] as number })
    p += HEADER_BYTES + length
  }
  return chunks
}

/** Where the first chunk of a record framed at `offset` starts. */
function firstChunkOffset(offset: number): number {
  const remaining = BLOCK_BYTES - (offset % BLOCK_BYTES)
  return remaining < HEADER_BYTES ? offset + remaining : offset
}

function randomSize(prng: Prng): number {
  const r = prng.next()
  if (r < 0.1) return 0
  if (r < 0.6) return prng.int(200)
  if (r < 0.85) return prng.int(8 * 1024)
  return prng.int(100 * 1024 + 1)
}

t.test('random records of 0..100 KiB round trip (seeded)', async (t) => {
  const seed = testSeed()
  t.comment(`seed ${seed} (replay with STRATA_SEED=${seed})`)
  const prng = new Prng(seed)
  const file = new RecordingFile()
  const writer = new LogWriter(file, '000001.log')
  const written: Buffer[] = []
  const expectedOffsets: number[] = []
  let groups = 0
  while (written.length < 300) {
    const group = Array.from({ length: prng.range(1, 4) }, () => prng.bytes(randomSize(prng)))
    let offset = writer.sizeBytes
    for (const record of group) {
      expectedOffsets.push(firstChunkOffset(offset))
      offset = framedEnd(offset, record.length)
    }
    if (group.length === 1 && prng.bool()) writer.addRecord(group[0] as Buffer)
    else writer.addRecords(group)
    groups++
    written.push(...group)
    t.equal(writer.sizeBytes, offset, `seed ${seed}: sizeBytes follows framedEnd`)
  }
  t.equal(file.appendCalls, groups, 'one append per group')
  t.equal(file.data.length, writer.sizeBytes)
  const result = readLogRecords(file.data, '000001.log')
  t.equal(result.records.length, written.length, `seed ${seed}: record count`)
  let mismatches = 0
  result.records.forEach((record, i) => {
    if (!record.equals(written[i] as Buffer)) mismatches++
  })
  t.equal(mismatches, 0, `seed ${seed}: every record reads back equal`)
  t.same(result.offsets, expectedOffsets, `seed ${seed}: offsets are first chunk headers`)
  t.equal(result.validBytes, file.data.length)
  t.equal(result.droppedTailBytes, 0)
})

t.test('record sizes and start offsets around block boundaries', async (t) => {
  const sizes = [0, 1, 100, 32754, 32755, 32760, 32761, 32762, 65521, 65522, 65523, 98283, 98284, 100 * 1024]
  // 32761 leaves exactly a header's room in block 0, 32762 and 32767 leave a trailer.
  const starts = [7, 8, 32754, 32755, 32761, 32762, 32767, 40000]
  for (const start of starts) {
    let prefixBytes = Math.max(0, start - 2 * HEADER_BYTES)
    while (framedEnd(0, prefixBytes) < start) prefixBytes++
    const prefix = frameRecords([bigRecord('p', prefixBytes)], 0)
    t.equal(prefix.length, start, `a prefix record ends at ${start}`)
    const file = new RecordingFile(prefix)
    const writer = new LogWriter(file, '000002.log')
    const records = sizes.map((n, i) => bigRecord(String.fromCharCode(97 + i), n))
    for (const record of records) writer.addRecord(record)
    const result = readLogRecords(file.data, '000002.log')
    t.equal(result.records.length, records.length + 1, `start ${start}: count`)
    t.ok(result.records.slice(1).every((r, i) => r.equals(records[i] as Buffer)), `start ${start}: bytes`)
    t.equal(result.droppedTailBytes, 0)
    for (const chunk of chunksOf(file.data)) {
      t.ok(chunk.type >= ChunkType.Full && chunk.type <= ChunkType.Last, 'types 1..4 only')
      const end = chunk.offset + HEADER_BYTES + chunk.length
      t.equal(Math.floor(chunk.offset / BLOCK_BYTES), Math.floor((end - 1) / BLOCK_BYTES), 'inside a block')
    }
  }
})

t.test('a 100 KiB record is FIRST, MIDDLE, MIDDLE, LAST', async (t) => {
  const file = new RecordingFile()
  const writer = new LogWriter(file, '000003.log')
  writer.addRecord(bigRecord('x', 100 * 1024))
  const chunks = chunksOf(file.data)
  t.same(chunks.map((c) => c.type), [ChunkType.First, ChunkType.Middle, ChunkType.Middle, ChunkType.Last])
  t.same(chunks.map((c) => c.length), [32761, 32761, 32761, 100 * 1024 - 3 * CHUNK_PAYLOAD_BYTES_MAX])
  t.same(chunks.map((c) => c.offset), [0, BLOCK_BYTES, 2 * BLOCK_BYTES, 3 * BLOCK_BYTES])
})

t.test('an empty record is a FULL chunk of length 0', async (t) => {
  const file = new RecordingFile()
  const writer = new LogWriter(file, '000004.log')
  writer.addRecord(new Uint8Array(0))
  t.equal(file.data.length, HEADER_BYTES)
  t.same(chunksOf(file.data), [{ offset: 0, length: 0, type: ChunkType.Full }])
  const result = readLogRecords(file.data, '000004.log')
  t.equal(result.records.length, 1)
  t.equal(result.records[0]?.length, 0)
})

t.test('with exactly 7 bytes left a record starts with an empty FIRST chunk', async (t) => {
  const file = new RecordingFile()
  const writer = new LogWriter(file, '000005.log')
  writer.addRecord(bigRecord('a', BLOCK_BYTES - 2 * HEADER_BYTES))
  writer.addRecord(Buffer.from('bar'))
  const chunks = chunksOf(file.data)
  t.same(chunks.slice(1), [
    { offset: BLOCK_BYTES - HEADER_BYTES, length: 0, type: ChunkType.First },
    { offset: BLOCK_BYTES, length: 3, type: ChunkType.Last },
  ])
  const result = readLogRecords(file.data, '000005.log')
  t.same(result.records.map((r) => r.length), [BLOCK_BYTES - 2 * HEADER_BYTES, 3])
  t.same(result.offsets, [0, BLOCK_BYTES - HEADER_BYTES])
})

t.test('addRecords frames a group into one append; an empty group appends nothing', async (t) => {
  const file = new RecordingFile()
  const writer = new LogWriter(file, '000006.log')
  writer.addRecords([])
  t.equal(file.appendCalls, 0)
  const group = [Buffer.from('a'), bigRecord('b', 70_000), Buffer.alloc(0), Buffer.from('c')]
  writer.addRecords(group)
  t.equal(file.appendCalls, 1)
  t.same(file.data, frameRecords(group, 0), 'the append is exactly frameRecords')
  t.same(readLogRecords(file.data, '000006.log').records, group)
})

t.test('a writer continues an existing log at its size', async (t) => {
  const first = new RecordingFile()
  const w1 = new LogWriter(first, '000007.log')
  w1.addRecord(bigRecord('a', 32_758)) // ends 3 bytes before the block end
  const file = new RecordingFile(first.data)
  const w2 = new LogWriter(file, '000007.log')
  t.equal(w2.sizeBytes, 32_765)
  w2.addRecord(Buffer.from('next'))
  t.equal(file.data.subarray(32_765, BLOCK_BYTES).toString('hex'), '000000', 'trailer zero-filled')
  const result = readLogRecords(file.data, '000007.log')
  t.same(result.records.map((r) => r.toString().slice(0, 4)), ['aaaa', 'next'])
  t.same(result.offsets, [0, BLOCK_BYTES])
})

t.test('records are copies independent of the input buffer', async (t) => {
  const data = frameRecords([Buffer.from('hello'), bigRecord('z', 40_000)], 0)
  const result = readLogRecords(data, '000008.log')
  data.fill(0xee)
  t.equal(result.records[0]?.toString(), 'hello')
  t.ok(result.records[1]?.every((b) => b === 0x7a))
})

t.test('a failed append poisons the writer', async (t) => {
  const file = new RecordingFile()
  const writer = new LogWriter(file, '000009.log')
  writer.addRecord(Buffer.from('ok'))
  file.failNextAppendAfterBytes = 3
  t.throws(() => writer.addRecord(Buffer.from('lost')), { message: 'simulated ENOSPC' })
  t.equal(writer.sizeBytes, 9, 'size stays at the last complete append')
  const later = t.throws(() => writer.addRecord(Buffer.from('later')))
  t.ok(isStrataError(later, 'IO'), 'later writes fail with IO')
  t.equal((later as { file?: string }).file, '000009.log')
  await t.rejects(writer.sync(), { code: 'IO' })
  t.equal(file.appendCalls, 2, 'nothing appended after the failure')
  const result = readLogRecords(file.data, '000009.log')
  t.same(result.records.map(String), ['ok'])
  t.equal(result.droppedTailBytes, 3, 'the torn append is a dropped tail')
})

t.test('a failed sync poisons the writer', async (t) => {
  const file = new RecordingFile()
  const writer = new LogWriter(file, '000010.log')
  writer.addRecord(Buffer.from('a'))
  file.failNextSync = true
  await t.rejects(writer.sync(), { message: 'simulated EIO' })
  t.throws(() => writer.addRecord(Buffer.from('b')), { code: 'IO' })
  await t.rejects(writer.sync(), { code: 'IO' })
  t.equal(file.syncCalls, 1, 'no retried fsync after a failure')
})

t.test('close is idempotent and later use is a programmer error', async (t) => {
  const file = new RecordingFile()
  const writer = new LogWriter(file, '000011.log')
  writer.addRecord(Buffer.from('a'))
  await writer.sync()
  await writer.close()
  await writer.close()
  t.equal(file.closeCalls, 1)
  t.throws(() => writer.addRecord(Buffer.from('b')), AssertionError)
  t.throws(() => new LogWriter(new RecordingFile(), '/data/tree/000012.log'), AssertionError)
})

t.test('crash on MemVfs: every synced record survives, torn tails are dropped', async (t) => {
  const seed = testSeed()
  t.comment(`seed ${seed} (replay with STRATA_SEED=${seed})`)
  const prng = new Prng(seed)
  for (let round = 0; round < 20; round++) {
    const vfs = new MemVfs()
    await vfs.mkdirp('/tree')
    const file = await vfs.create('/tree/000013.log')
    await vfs.syncDir('/tree')
    const writer = new LogWriter(file, '000013.log')
    const written: Buffer[] = []
    let synced = 0
    for (let i = 0; i < 12; i++) {
      const group = Array.from({ length: prng.range(1, 3) }, () => prng.bytes(randomSize(prng)))
      writer.addRecords(group)
      written.push(...group)
      if (prng.bool(0.4)) {
        await writer.sync()
        synced = written.length
      }
    }
    const crashed = vfs.crashClone({ seed: prng.int(1 << 30), tornWrites: true })
    const data = crashed.fileData('/tree/000013.log')
    const result = readLogRecords(data, '000013.log')
    t.ok(result.records.length >= synced, `seed ${seed} round ${round}: synced records survive`)
    t.ok(result.records.every((r, i) => r.equals(written[i] as Buffer)), `seed ${seed}: a prefix`)
    t.equal(result.validBytes + result.droppedTailBytes, data.length)
  }
})
