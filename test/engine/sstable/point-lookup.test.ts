/**
 * TableReader.findPoint (the point-get fast path) against a sorted-array model: random tables
 * (many versions per key, every point kind, empty and large values, restart intervals 1/4/16,
 * tiny and default blocks, none and zstd), probed with present and absent keys at random,
 * boundary and maximal seqnos, with and without a block cache (miss then hit). Also the
 * internal-key ordering helper at its edges.
 */
import t, { type Test } from 'tap'
import { encodeInternalKey, KeyKind, MAX_SEQNO } from '../../../src/engine/base/internal-key.js'
import { BlockCache } from '../../../src/engine/cache/block-cache.js'
import { Order, orderAgainst, PointEntry } from '../../../src/engine/sstable/point-lookup.js'
import { PointStatus, type TableReader } from '../../../src/engine/sstable/table-reader.js'
import { type SeededRandom, seededRandom } from '../../helpers/sstable-random.js'
import { compareEntries, type ModelEntry, openTable, writeTable } from '../../helpers/sstable-tables.js'

const KINDS = [KeyKind.Put, KeyKind.Put, KeyKind.Delete, KeyKind.Merge, KeyKind.BlobIndex]

function randomModel(rng: SeededRandom, n: number, newKey = () => rng.keyBytes(1, 20, 5)): ModelEntry[] {
  const userKeys = Array.from({ length: Math.ceil(n / 3) }, newKey)
  const seen = new Set<string>()
  const out: ModelEntry[] = []
  while (out.length < n) {
    const userKey = rng.pick(userKeys)
    const seqno = rng.bool(0.01) ? rng.range(2 ** 40, MAX_SEQNO) : rng.range(0, 5_000)
    const id = `${userKey.toString('hex')}/${seqno}`
    if (seen.has(id)) continue
    seen.add(id)
    const valueBytes = rng.bool(0.005) ? rng.range(5_000, 20_000) : rng.range(0, 40)
    out.push({ userKey, seqno, kind: rng.pick(KINDS), value: rng.bytes(valueBytes) })
  }
  return out.sort(compareEntries)
}

/** What findPoint must answer: the first model entry at or after (key, seqno). */
function expected(model: readonly ModelEntry[], key: Buffer, seqno: number): string {
  const e = model.find((m) => {
    const c = Buffer.compare(m.userKey, key)
    return c > 0 || (c === 0 && m.seqno <= seqno)
  })
  if (e === undefined || !e.userKey.equals(key)) return 'absent'
  if (e.kind !== KeyKind.Put && e.kind !== KeyKind.Delete) return 'iterator'
  return `found ${e.seqno}/${e.kind}=${e.value.toString('hex')}`
}

function actual(reader: TableReader, key: Buffer, seqno: number, out: PointEntry): string {
  const status = reader.findPoint(key, seqno, out)
  if (status === PointStatus.Absent) return 'absent'
  if (status === PointStatus.UseIterator) return 'iterator'
  return `found ${out.seqno}/${out.kind}=${out.data.subarray(out.valueStart, out.valueEnd).toString('hex')}`
}

const SHAPES = [
  { compression: 'none', blockBytes: 256, restartInterval: 1 },
  { compression: 'none', blockBytes: 256, restartInterval: 4 },
  { compression: 'zstd', blockBytes: 512, restartInterval: 16 },
  { compression: 'none', blockBytes: 4096, restartInterval: 16 },
] as const

/** Every key starts with this: the index search narrows by the bytes after it (SparseIndex). */
const SHARED_PREFIX = Buffer.from('tenant-0042/')

for (const shape of SHAPES) {
  t.test(`findPoint agrees with the model (${JSON.stringify(shape)})`, async (t) => {
    const rng = seededRandom(t.comment.bind(t))
    await checkAgainstModel(t, rng, shape, randomModel(rng, 3000), [])
  })
  t.test(`findPoint agrees with the model, keys with a shared prefix (${JSON.stringify(shape)})`, async (t) => {
    const rng = seededRandom(t.comment.bind(t))
    // Short tails (0 to 9 bytes of 3 letters): many keys are prefixes of others and many share
    // more than the index's packed bytes; probes cut, end inside or leave the shared prefix.
    // Tails of 0x00/0x01 bytes make a key's successor share bytes of its trailer (small seqnos
    // start with zero bytes): the in-place scan must then rebuild keys.
    const zeroTail = () => Buffer.from(Array.from({ length: rng.range(0, 6) }, () => (rng.bool(0.7) ? 0 : 1)))
    const model = randomModel(rng, 3000,
      () => Buffer.concat([SHARED_PREFIX, rng.bool(0.5) ? rng.keyBytes(0, 9, 3) : zeroTail()]))
    const extra: Buffer[] = []
    for (let n = 0; n <= SHARED_PREFIX.length; n++) extra.push(SHARED_PREFIX.subarray(0, n))
    for (let i = 0; i < SHARED_PREFIX.length; i++) {
      for (const delta of [-1, 1]) {
        const k = Buffer.from(SHARED_PREFIX)
        k[i] = k[i]! + delta
        extra.push(k, Buffer.concat([k, rng.keyBytes(0, 4, 3)]))
      }
    }
    for (let i = 0; i < 200; i++) extra.push(Buffer.concat([SHARED_PREFIX, rng.keyBytes(0, 12, 4)]), Buffer.concat([SHARED_PREFIX, zeroTail()]))
    await checkAgainstModel(t, rng, shape, model, extra)
  })
}

async function checkAgainstModel(
  t: Test, rng: SeededRandom, shape: (typeof SHAPES)[number], model: ModelEntry[], extraKeys: Buffer[],
): Promise<void> {
  {
    const { vfs, path } = await writeTable(model, [], shape)
    const probes: [Buffer, number][] = []
    for (const key of extraKeys) probes.push([key, MAX_SEQNO], [key, rng.range(0, 6_000)])
    for (let i = 0; i < 1500; i++) {
      const e = rng.pick(model)
      const seqno = rng.pick([e.seqno, e.seqno - 1, e.seqno + 1, MAX_SEQNO, 0, rng.range(0, 6_000)])
      probes.push([e.userKey, Math.max(0, Math.min(MAX_SEQNO, seqno))])
    }
    for (let i = 0; i < 300; i++) probes.push([rng.keyBytes(1, 22, 6), rng.range(0, 6_000)]) // mostly absent
    probes.push([Buffer.from([0]), MAX_SEQNO], [Buffer.alloc(30, 0xff), MAX_SEQNO]) // before / after all
    for (const cache of [undefined, new BlockCache(1 << 22)]) {
      const reader = await openTable(vfs, path, 7, cache)
      const out = new PointEntry()
      const wrong: string[] = []
      for (let round = 0; round < (cache ? 2 : 1); round++) { // with a cache: misses, then hits
        for (const [key, seqno] of probes) {
          const want = expected(model, key, seqno)
          const got = actual(reader, key, seqno, out)
          if (got !== want) wrong.push(`${key.toString('hex')}@${seqno}: ${got} != ${want}`)
        }
      }
      t.same(wrong.slice(0, 5), [], `every probe answers as the model (${cache ? 'cached' : 'no cache'})`)
      if (cache) t.ok(cache.stats().hits > 0 && cache.stats().misses > 0, 'both cache paths ran')
      await reader.close()
    }
  }
}

t.test('orderAgainst: user key, then seqno; the target sorts before its own seqno', async (t) => {
  const at = (userKey: string, seqno: number, kind: KeyKind = KeyKind.Put) => {
    const k = encodeInternalKey(Buffer.from(userKey), seqno, kind)
    return (target: string, targetSeqno: number) => orderAgainst(k, 0, k.length, Buffer.from(target), targetSeqno)
  }
  t.equal(at('abc', 5)('abd', 5), Order.Before)
  t.equal(at('abc', 5)('ab', 5), Order.After, 'a longer key after its prefix')
  t.equal(at('ab', 5)('abc', 5), Order.Before, 'a prefix before the longer key')
  t.equal(at('abc', 5)('abc', 5), Order.SameKey, 'seqno equal to the read seqno is visible')
  t.equal(at('abc', 5, KeyKind.Delete)('abc', 5), Order.SameKey, 'whatever the kind')
  t.equal(at('abc', 6)('abc', 5), Order.Before, 'newer than the read seqno: before the target')
  t.equal(at('abc', 4)('abc', 5), Order.SameKey)
  t.equal(at('abc', MAX_SEQNO)('abc', MAX_SEQNO), Order.SameKey)
  t.equal(at('abc', 2 ** 48 + 3)('abc', 2 ** 48 + 2), Order.Before, 'all seven seqno bytes count')
  t.equal(at('', 1)('a', 1), Order.Before, 'empty user key')
  // In the middle of a larger buffer.
  const k = Buffer.concat([Buffer.from('zz'), encodeInternalKey(Buffer.from('m'), 9, KeyKind.Put), Buffer.from('zz')])
  t.equal(orderAgainst(k, 2, k.length - 2, Buffer.from('m'), 9), Order.SameKey)
})

t.test('findPoint: a key that shares bytes of its predecessor\'s trailer is found (keys rebuilt)', async (t) => {
  // "p\0" at seqno 5 then "p" + six zeros + 0x01: the second key shares "p\0" and six zero
  // bytes of the first one's trailer, more than the first key matches of the target.
  const first = Buffer.from('p\0', 'latin1')
  const second = Buffer.concat([Buffer.from('p'), Buffer.alloc(6), Buffer.from([1])])
  const model: ModelEntry[] = [
    { userKey: first, seqno: 5, kind: KeyKind.Put, value: Buffer.from('one') },
    { userKey: second, seqno: 3, kind: KeyKind.Put, value: Buffer.from('two') },
  ]
  const { vfs, path } = await writeTable(model, [], { compression: 'none', blockBytes: 4096, restartInterval: 16 })
  const reader = await openTable(vfs, path, 7, new BlockCache(1 << 20))
  const out = new PointEntry()
  for (let round = 0; round < 2; round++) {
    t.equal(actual(reader, second, MAX_SEQNO, out), `found 3/${KeyKind.Put}=${Buffer.from('two').toString('hex')}`)
    t.equal(actual(reader, first, MAX_SEQNO, out), `found 5/${KeyKind.Put}=${Buffer.from('one').toString('hex')}`)
    t.equal(actual(reader, Buffer.concat([first, Buffer.alloc(1)]), MAX_SEQNO, out), 'absent')
  }
  await reader.close()
})
