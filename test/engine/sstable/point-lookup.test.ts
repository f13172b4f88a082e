/**
 * TableReader.findPoint (the point-get fast path) against a sorted-array model: random tables
 * (many versions per key, every point kind, empty and large values, restart intervals 1/4/16,
 * tiny and default blocks, none and zstd), probed with present and absent keys at random,
 * boundary and maximal seqnos, with and without a block cache (miss then hit). Also the
 * internal-key ordering helper at its edges.
 */
import t from 'tap'
import { encodeInternalKey, KeyKind, MAX_SEQNO } from '../../../src/engine/base/internal-key.js'
import { BlockCache } from '../../../src/engine/cache/block-cache.js'
import { Order, orderAgainst, PointEntry } from '../../../src/engine/sstable/point-lookup.js'
import { PointStatus, type TableReader } from '../../../src/engine/sstable/table-reader.js'
import { type SeededRandom, seededRandom } from '../../helpers/sstable-random.js'
import { compareEntries, type ModelEntry, openTable, writeTable } from '../../helpers/sstable-tables.js'

const KINDS = [KeyKind.Put, KeyKind.Put, KeyKind.Delete, KeyKind.Merge, KeyKind.BlobIndex]

function randomModel(rng: SeededRandom, n: number): ModelEntry[] {
  const userKeys = Array.from({ length: Math.ceil(n / 3) }, () => rng.keyBytes(1, 20, 5))
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

for (const shape of SHAPES) {
  t.test(`findPoint agrees with the model (${JSON.stringify(shape)})`, async (t) => {
    const rng = seededRandom(t.comment.bind(t))
    const model = randomModel(rng, 3000)
    const { vfs, path } = await writeTable(model, [], shape)
    const probes: [Buffer, number][] = []
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
  })
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
