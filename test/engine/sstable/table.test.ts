/**
 * Table round trips against a sorted-array model: 10k random entries (many versions per key,
 * every point kind, empty and large values) plus range tombstones, with none and zstd; every
 * positioning call (seekGE with and without seqno, seekLT, first, last, next, prev, random walks)
 * is compared with the model. Also: tombstone-only tables, the block cache, builder contracts.
 */
import t from 'tap'
import { crc32c } from '../../../src/engine/base/crc32c.js'
import { compareKeySeqno, KeyKind, MAX_SEQNO } from '../../../src/engine/base/internal-key.js'
import { BlockCache } from '../../../src/engine/cache/block-cache.js'
import { isCorruption } from '../../../src/engine/errors.js'
import type { InternalIterator } from '../../../src/engine/iterator/internal-iterator.js'
import type { TableProperties } from '../../../src/engine/sstable/properties.js'
import { type BuiltTable, TableBuilder } from '../../../src/engine/sstable/table-builder.js'
import { MemVfs } from '../../../src/engine/vfs/mem-vfs.js'
import type { WritableFile } from '../../../src/engine/vfs/vfs.js'
import { type SeededRandom, seededRandom } from '../../helpers/sstable-random.js'
import {
  compareEntries, DEFAULT_BUILDER_OPTIONS, describe, entryOf, type ModelEntry, type ModelTombstone, openTable,
  scanBackward, scanForward, TABLE_DIR, writeTable,
} from '../../helpers/sstable-tables.js'

type TestHandle = Pick<typeof t, "equal" | "same" | "ok">

const POINT_KINDS = [KeyKind.Put, KeyKind.Delete, KeyKind.Merge, KeyKind.BlobIndex]

function randomModel(rng: SeededRandom, n: number): ModelEntry[] {
  const userKeys = Array.from({ length: Math.ceil(n / 3) }, () => rng.keyBytes(1, 16, 6))
  const seen = new Set<string>()
  const out: ModelEntry[] = []
  while (out.length < n) {
    const userKey = rng.pick(userKeys)
    const seqno = rng.bool(0.01) ? rng.range(2 ** 40, MAX_SEQNO) : rng.range(0, 50_000)
    const kind = rng.pick(POINT_KINDS)
    const id = `${userKey.toString('hex')}/${seqno}/${kind}`
    if (seen.has(id)) continue
    seen.add(id)
    const valueBytes = rng.bool(0.002) ? rng.range(10_000, 70_000) : rng.range(0, 40)
    out.push({ userKey, seqno, kind, value: rng.bool(0.5) ? rng.bytes(valueBytes) : Buffer.alloc(valueBytes, 0x76) })
  }
  return out.sort(compareEntries)
}

function randomTombstones(rng: SeededRandom, n: number): ModelTombstone[] {
  return Array.from({ length: n }, () => {
    const start = rng.keyBytes(1, 4, 6)
    return { start, end: Buffer.concat([start, rng.keyBytes(1, 3, 6)]), seqno: rng.range(1, 50_000) }
  })
}

/** Index of the first model entry >= (userKey, seqno, kind 255). */
function lowerBound(model: readonly ModelEntry[], userKey: Buffer, seqno: number): number {
  let lo = 0
  let hi = model.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const e = model[mid]!
    if (compareKeySeqno(e.userKey, e.seqno, e.kind, userKey, seqno, 255) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

const same = (a: ModelEntry | undefined, b: ModelEntry | undefined) => describe(a) === describe(b) &&
  (a === undefined || (a.value.equals(b!.value) && a.userKey.equals(b!.userKey)))

for (const compression of ['none', 'zstd'] as const) {
  t.test(`10k entries + tombstones round trip (${compression})`, async (t) => {
    const rng = seededRandom(t.comment.bind(t))
    const model = randomModel(rng, 10_000)
    const tombstones = randomTombstones(rng, 40)
    const options = { compression, blockBytes: rng.pick([256, 1024, 4096]), restartInterval: rng.pick([1, 4, 16]) }
    t.comment(`options ${JSON.stringify(options)}`)
    const { vfs, path, built } = await writeTable(model, tombstones, options)
    const bytes = vfs.fileData(path)
    t.equal(built.sizeBytes, bytes.length, 'sizeBytes is the file size')
    t.equal(built.checksum, crc32c(bytes), 'checksum is the crc32c of the whole file')
    t.equal(built.entries, model.length)
    const cache = new BlockCache(1 << 20)
    const reader = await openTable(vfs, path, 7, cache)
    checkProperties(t, reader.properties, model, tombstones, built)
    const it = reader.newIterator()
    t.ok(sameList(scanForward(it), model), 'forward scan equals the model')
    t.ok(sameList(scanBackward(it), [...model].reverse()), 'backward scan equals the model')
    t.ok(model.every((e) => reader.mayContain(e.userKey)), 'filter: no false negatives')
    let failures = 0
    for (let i = 0; i < 1500; i++) {
      const base = rng.bool(0.7) ? rng.pick(model) : undefined
      const userKey = base !== undefined ? (rng.bool(0.8) ? base.userKey : Buffer.concat([base.userKey, Buffer.from([0])])) : rng.keyBytes(0, 17, 7)
      const seqno = rng.bool(0.3) ? MAX_SEQNO : base !== undefined && rng.bool(0.5) ? base.seqno : rng.range(0, 50_000)
      it.seekGE(userKey, seqno)
      if (!same(it.valid ? entryOf(it) : undefined, model[lowerBound(model, userKey, seqno)])) failures++
      it.seekGE(userKey)
      if (!same(it.valid ? entryOf(it) : undefined, model[lowerBound(model, userKey, MAX_SEQNO)])) failures++
      it.seekLT(userKey)
      if (!same(it.valid ? entryOf(it) : undefined, model[lowerBound(model, userKey, MAX_SEQNO) - 1])) failures++
    }
    t.equal(failures, 0, 'seekGE / seekLT agree with the model at 1500 random targets')
    t.equal(randomWalk(rng, it, model), 0, 'random next/prev walks agree with the model')
    const stats = cache.stats()
    t.ok(stats.hits > 0 && stats.misses > 0, `block cache used (${stats.hits} hits, ${stats.misses} misses)`)
    it.close()
    it.close()
    t.throws(() => it.first(), /after close/, 'no use after close')
    await reader.close()
  })
}

function checkProperties(
  t: TestHandle, p: TableProperties, model: ModelEntry[], ts: ModelTombstone[], built: BuiltTable,
): void {
  const seqnos = [...model.map((e) => e.seqno), ...ts.map((x) => x.seqno)]
  const keys = [...model.map((e) => e.userKey), ...ts.flatMap((x) => [x.start, x.end])].sort(Buffer.compare)
  t.equal(p.entries, model.length, 'properties.entries')
  t.equal(p.rawKeyBytes, model.reduce((n, e) => n + e.userKey.length, 0), 'properties.rawKeyBytes')
  t.equal(p.rawValueBytes, model.reduce((n, e) => n + e.value.length, 0), 'properties.rawValueBytes')
  t.equal(p.smallestSeqno, Math.min(...seqnos), 'properties.smallestSeqno')
  t.equal(p.largestSeqno, Math.max(...seqnos), 'properties.largestSeqno')
  t.same(p.smallestKey, keys[0], 'smallestKey includes tombstone starts')
  t.same(p.largestKey, keys[keys.length - 1], 'largestKey includes tombstone ends')
  t.same(built.smallestKey, p.smallestKey, 'BuiltTable.smallestKey')
  t.same(built.largestKey, p.largestKey, 'BuiltTable.largestKey')
  t.equal(built.rangeTombstones, p.rangeTombstones, 'BuiltTable.rangeTombstones')
  t.ok(p.dataBlocks >= 1, 'dataBlocks')
  t.equal(p.creationTimeMs, DEFAULT_BUILDER_OPTIONS.creationTimeMs)
}

function sameList(a: readonly ModelEntry[], b: readonly ModelEntry[]): boolean {
  return a.length === b.length && a.every((e, i) => same(e, b[i]))
}

/** Random sequences of first/last/seek/next/prev; returns the number of mismatches. */
function randomWalk(rng: SeededRandom, it: InternalIterator, model: ModelEntry[]): number {
  let failures = 0
  for (let walk = 0; walk < 200; walk++) {
    let pos: number
    if (rng.bool(0.25)) { it.first(); pos = 0 } else if (rng.bool(0.33)) { it.last(); pos = model.length - 1 } else {
      const e = rng.pick(model)
      it.seekGE(e.userKey, e.seqno)
      pos = lowerBound(model, e.userKey, e.seqno)
    }
    for (let step = 0; step < 40 && pos >= 0 && pos < model.length; step++) {
      if (!it.valid || !same(entryOf(it), model[pos])) { failures++; break }
      if (rng.bool()) { it.next(); pos++ } else { it.prev(); pos-- }
    }
    if (it.valid !== (pos >= 0 && pos < model.length)) failures++
  }
  return failures
}

t.test('range tombstones: fragments readable and covering like the input', async (t) => {
  const tombstones: ModelTombstone[] = [
    { start: Buffer.from('m'), end: Buffer.from('p'), seqno: 10 },
    { start: Buffer.from('a'), end: Buffer.from('n'), seqno: 3 },
  ]
  const model = [{ userKey: Buffer.from('k'), seqno: 5, kind: KeyKind.Put, value: Buffer.from('v') }]
  const { vfs, path, built } = await writeTable(model, tombstones)
  const reader = await openTable(vfs, path)
  t.same(reader.rangeTombstones.map((x) => [x.start.toString(), x.end.toString(), x.seqno]), [
    ['a', 'm', 3], ['m', 'n', 10], ['m', 'n', 3], ['n', 'p', 10],
  ])
  t.equal(built.rangeTombstones, 4, 'one stored tombstone per (fragment, seqno)')
  t.equal(reader.properties.rangeTombstones, 4)
  t.equal(built.smallestKey.toString(), 'a')
  t.equal(built.largestKey.toString(), 'p')
  t.equal(built.smallestSeqno, 3)
  t.equal(built.largestSeqno, 10)
})

t.test('a table of range tombstones only', async (t) => {
  const { vfs, path, built } = await writeTable([], [{ start: Buffer.from('b'), end: Buffer.from('d'), seqno: 4 }])
  t.equal(built.entries, 0)
  const reader = await openTable(vfs, path)
  t.equal(reader.properties.dataBlocks, 0)
  t.ok(reader.mayContain(Buffer.from('c')), 'no filter block: may contain')
  const it = reader.newIterator()
  for (const position of [() => it.first(), () => it.last(), () => it.seekGE(Buffer.from('c')), () => it.seekLT(Buffer.from('z'))]) {
    position()
    t.notOk(it.valid)
  }
  t.equal(reader.rangeTombstones.length, 1)
})

t.test('many versions of one user key spanning many blocks', async (t) => {
  const model: ModelEntry[] = []
  for (let s = 2000; s >= 1; s--) model.push({ userKey: Buffer.from('key'), seqno: s, kind: s % 7 === 0 ? KeyKind.Delete : KeyKind.Put, value: Buffer.from(`v${s}`) })
  model.push({ userKey: Buffer.from('kez'), seqno: 1, kind: KeyKind.Put, value: Buffer.alloc(0) })
  const { vfs, path } = await writeTable(model, [], { blockBytes: 128 })
  const reader = await openTable(vfs, path)
  t.ok(reader.properties.dataBlocks > 50, `${reader.properties.dataBlocks} data blocks`)
  const it = reader.newIterator()
  let failures = 0
  for (let s = 2001; s >= 0; s--) {
    it.seekGE(Buffer.from('key'), s)
    const expected = s === 0 ? 'kez' : 'key'
    if (!it.valid || it.key.toString() !== expected || (s > 0 && it.seqno !== Math.min(s, 2000))) failures++
  }
  t.equal(failures, 0, 'seekGE(key, s) lands on the newest version <= s, across block boundaries')
  it.seekLT(Buffer.from('kez'))
  t.ok(it.valid && it.seqno === 1 && it.key.toString() === 'key', 'seekLT lands on the oldest version')
})

t.test('a large value and the smallest table', async (t) => {
  const big = Buffer.alloc(3 * 1024 * 1024, 0x5a)
  const model = [
    { userKey: Buffer.from('a'), seqno: 1, kind: KeyKind.Put, value: big },
    { userKey: Buffer.from('b'), seqno: 2, kind: KeyKind.Put, value: Buffer.alloc(0) },
  ]
  for (const compression of ['none', 'zstd'] as const) {
    const { vfs, path } = await writeTable(model, [], { compression })
    const it = (await openTable(vfs, path)).newIterator()
    it.first()
    t.ok(it.value.equals(big), `big value round trip (${compression})`)
    it.next()
    t.equal(it.value.length, 0)
  }
})

t.test('builder contracts', async (t) => {
  const vfs = new MemVfs()
  await vfs.mkdirp(TABLE_DIR)
  const builder = new TableBuilder(await vfs.create(`${TABLE_DIR}/000001.sst`), '000001.sst', 1, DEFAULT_BUILDER_OPTIONS)
  await t.rejects(builder.finish(), /empty table/, 'an empty table is an assertion')
  const b2 = new TableBuilder(await vfs.create(`${TABLE_DIR}/000002.sst`), '000002.sst', 2, DEFAULT_BUILDER_OPTIONS)
  b2.add(Buffer.from('b'), 5, KeyKind.Put, Buffer.alloc(0))
  t.throws(() => b2.add(Buffer.from('b'), 5, KeyKind.Merge, Buffer.alloc(0)), /strictly increasing/, 'same seqno, higher kind')
  t.throws(() => b2.add(Buffer.from('b'), 5, KeyKind.Put, Buffer.alloc(0)), /strictly increasing/, 'duplicate')
  t.throws(() => b2.add(Buffer.from('a'), 9, KeyKind.Put, Buffer.alloc(0)), /strictly increasing/, 'smaller key')
  t.throws(() => b2.add(Buffer.from('c'), 9, KeyKind.RangeDelete, Buffer.alloc(0)), /kind/, 'RangeDelete is not a point kind')
  t.throws(() => b2.addRangeTombstone(Buffer.from('b'), Buffer.from('b'), 1), /start < end/)
  b2.add(Buffer.from('b'), 5, KeyKind.Delete, Buffer.alloc(0)) // same seqno, lower kind sorts after
  b2.add(Buffer.from('b'), 4, KeyKind.Merge, Buffer.alloc(0))
  t.equal(b2.entryCount, 3)
  t.ok(b2.estimatedBytes > 32, 'estimate includes the header and pending block')
  await b2.abandon()
  t.throws(() => b2.add(Buffer.from('z'), 1, KeyKind.Put, Buffer.alloc(0)), /abandoned/)
  t.throws(() => new TableBuilder(undefined as never, 'dir/x.sst', 1, DEFAULT_BUILDER_OPTIONS), /base name/)
})

t.test('a failed finish (sync error) leaves the builder abandonable', async (t) => {
  const vfs = new MemVfs()
  await vfs.mkdirp(TABLE_DIR)
  const inner = await vfs.create(`${TABLE_DIR}/000003.sst`)
  let closes = 0
  const failing: WritableFile = {
    get sizeBytes() { return inner.sizeBytes },
    append: (data) => inner.append(data),
    sync: async () => { throw new Error('EIO: injected') },
    close: async () => { closes++; await inner.close() },
  }
  const builder = new TableBuilder(failing, '000003.sst', 3, DEFAULT_BUILDER_OPTIONS)
  builder.add(Buffer.from('a'), 1, KeyKind.Put, Buffer.from('v'))
  await t.rejects(builder.finish(), /EIO/, 'the sync error propagates')
  t.equal(closes, 1, 'the file is closed after a failed sync')
  await builder.abandon()
  t.throws(() => builder.add(Buffer.from('b'), 1, KeyKind.Put, Buffer.alloc(0)), /failed or abandoned|abandoned/)
})

t.test('a table opened under another file number is CORRUPTION', async (t) => {
  const { vfs, path } = await writeTable([{ userKey: Buffer.from('a'), seqno: 1, kind: KeyKind.Put, value: Buffer.alloc(0) }])
  let err: unknown
  try {
    await openTable(vfs, path, 8)
  } catch (e) {
    err = e
  }
  t.ok(isCorruption(err), 'file number mismatch')
})
