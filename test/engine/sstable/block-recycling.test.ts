/**
 * The miss path's recycled buffers (TableReader + BlockCache): a miss reads into the buffer of
 * an evicted block that only point lookups saw; answers stay exact, a block handed to an
 * iterator is never reused under it, and a flipped byte is still a CORRUPTION on a recycled
 * read.
 */
import t from 'tap'
import { KeyKind, MAX_SEQNO } from '../../../src/engine/base/internal-key.js'
import { BlockCache } from '../../../src/engine/cache/block-cache.js'
import { PointEntry } from '../../../src/engine/sstable/point-lookup.js'
import { PointStatus } from '../../../src/engine/sstable/table-reader.js'
import { HEADER_BYTES } from '../../../src/engine/sstable/format.js'
import { type ModelEntry, openTable, writeTable } from '../../helpers/sstable-tables.js'

const ENTRIES = 3000
const key = (i: number) => Buffer.from(`key${String(i).padStart(6, '0')}`)
const value = (i: number) => Buffer.from(`value-${i}-`.padEnd(48, String.fromCharCode(97 + (i % 26))))
const model: ModelEntry[] = Array.from({ length: ENTRIES }, (_, i) => ({ userKey: key(i), seqno: i + 1, kind: KeyKind.Put, value: value(i) }))
const SHAPE = { compression: 'none', blockBytes: 512, restartInterval: 16 } as const

function valueOf(reader: Awaited<ReturnType<typeof openTable>>, k: Buffer, out: PointEntry): string | undefined {
  const status = reader.findPoint(k, MAX_SEQNO, out)
  if (status !== PointStatus.Found) return undefined
  return out.data.subarray(out.valueStart, out.valueEnd).toString()
}

t.test('misses read into recycled buffers; every answer stays exact', async (t) => {
  const { vfs, path } = await writeTable(model, [], SHAPE)
  const cache = new BlockCache(8 * 1024) // ~10 blocks of ~600 B with their overhead
  const reader = await openTable(vfs, path, 7, cache)
  const out = new PointEntry()
  const wrong: string[] = []
  let seed = 7
  for (let n = 0; n < 20_000; n++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    const i = seed % ENTRIES
    const got = valueOf(reader, key(i), out)
    if (got !== value(i).toString()) wrong.push(`${i}: ${got}`)
  }
  t.same(wrong.slice(0, 3), [], 'every lookup returns its own value')
  t.ok(cache.recycled > 1000, `most misses reused an evicted buffer (${cache.recycled} of ${cache.stats().misses})`)
  await reader.close()
})

t.test('a block an iterator holds is never recycled under it', async (t) => {
  const { vfs, path } = await writeTable(model, [], SHAPE)
  const cache = new BlockCache(8 * 1024)
  const reader = await openTable(vfs, path, 7, cache)
  const out = new PointEntry()
  t.equal(valueOf(reader, key(100), out), value(100).toString(), 'the block is first loaded by a point lookup')
  const it = reader.newIterator()
  it.seekGE(key(100), MAX_SEQNO) // the same cached block, now handed to an iterator
  const heldKey = it.key
  const heldValue = it.value
  const before = [Buffer.from(heldKey), Buffer.from(heldValue)]
  for (let i = 0; i < ENTRIES; i += 7) valueOf(reader, key(i), out) // evicts everything, many times
  t.ok(cache.recycled > 100, 'misses recycled buffers meanwhile')
  t.same([Buffer.from(heldKey), Buffer.from(heldValue)], before, 'the held views did not change')
  t.equal(it.value.toString(), value(100).toString())
  it.next()
  t.equal(it.value.toString(), value(101).toString(), 'the iterator goes on from its own block')
  it.close()
  await reader.close()
})

t.test('a flipped byte in a block read into a recycled buffer is a CORRUPTION', async (t) => {
  const { vfs, path } = await writeTable(model, [], SHAPE)
  const file = await vfs.openReadable(path)
  const bytes = file.readAt(0, file.sizeBytes)
  await file.close()
  // Find the block holding key 2000 from a clean read, then flip a byte inside it.
  const clean = await openTable(vfs, path, 7, new BlockCache(1 << 20))
  const out = new PointEntry()
  t.equal(valueOf(clean, key(2000), out), value(2000).toString())
  const inBlock = out.data.indexOf(value(2000))
  t.ok(inBlock >= 0)
  const fileOffset = bytes.indexOf(value(2000), HEADER_BYTES)
  await clean.close()
  bytes[fileOffset + 3] = bytes[fileOffset + 3]! ^ 0x10
  await vfs.mkdirp('/bad')
  const bad = await vfs.create('/bad/000007.sst')
  bad.append(bytes)
  await bad.close()

  const cache = new BlockCache(8 * 1024)
  const reader = await openTable(vfs, '/bad/000007.sst', 7, cache)
  for (let i = 0; i < 1900; i += 5) t.equal(valueOf(reader, key(i), out), value(i).toString(), `key ${i}`, { diagnostic: false })
  const recycled = cache.recycled
  t.ok(recycled > 0, 'spares are in use before the bad block is read')
  t.throws(() => reader.findPoint(key(2000), MAX_SEQNO, out), { code: 'CORRUPTION', message: /checksum/ })
  t.equal(cache.recycled, recycled + 1, 'the bad block was read into a recycled buffer')
  t.throws(() => reader.findPoint(key(2000), MAX_SEQNO, out), { code: 'CORRUPTION' }, 'and is never cached')
  t.equal(valueOf(reader, key(10), out), value(10).toString(), 'other blocks still read')
  await reader.close()
})
