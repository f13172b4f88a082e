/**
 * LruCache: eviction by bytes in least-recently-used order, hits refresh recency, counters,
 * oversize entries, capacity 0 (disabled), replace and delete accounting.
 */
import t from 'tap'
import { LRU_ENTRY_OVERHEAD_BYTES, LruCache } from '../../../src/engine/cache/lru.js'
import { seededRandom } from '../../helpers/sstable-random.js'

const O = LRU_ENTRY_OVERHEAD_BYTES
const lengthOf = (b: Buffer) => b.length

t.test('evicts least recently used entries by bytes', async (t) => {
  const evicted: string[] = []
  const lru = new LruCache<string, Buffer>(3 * (100 + O), lengthOf, (k) => evicted.push(k))
  lru.set('a', Buffer.alloc(100))
  lru.set('b', Buffer.alloc(100))
  lru.set('c', Buffer.alloc(100))
  t.equal(lru.usedBytes, 3 * (100 + O))
  t.ok(lru.get('a'), 'hit refreshes a')
  lru.set('d', Buffer.alloc(100))
  t.same(evicted, ['b'], 'b was least recently used')
  lru.set('e', Buffer.alloc(250))
  t.same(evicted, ['b', 'c', 'a'], 'a big entry evicts several')
  t.equal(lru.get('b'), undefined)
  t.same(lru.stats(), { capacityBytes: 3 * (100 + O), usedBytes: 350 + 2 * O, entries: 2, hits: 1, misses: 1, evictions: 3 })
})

t.test('oversize entries are not kept; capacity 0 disables the cache', async (t) => {
  const lru = new LruCache<number, Buffer>(1000, lengthOf)
  lru.set(1, Buffer.alloc(10))
  lru.set(2, Buffer.alloc(1000))
  t.notOk(lru.has(2), 'larger than the capacity with its overhead')
  t.ok(lru.has(1), 'and it evicted nothing')
  lru.set(1, Buffer.alloc(5000))
  t.notOk(lru.has(1), 'replacing with an oversize value drops the old one')
  t.equal(lru.usedBytes, 0)
  const off = new LruCache<number, Buffer>(0, lengthOf)
  off.set(1, Buffer.alloc(1))
  t.equal(off.get(1), undefined)
  t.equal(off.stats().misses, 1)
  t.throws(() => new LruCache<number, Buffer>(-1, lengthOf), /capacity/)
})

t.test('replace, delete and clear keep the byte count exact', async (t) => {
  const lru = new LruCache<string, Buffer>(10_000, lengthOf)
  lru.set('x', Buffer.alloc(100))
  lru.set('x', Buffer.alloc(300))
  t.equal(lru.usedBytes, 300 + O, 'replace recharges')
  t.ok(lru.delete('x'))
  t.notOk(lru.delete('x'))
  t.equal(lru.usedBytes, 0)
  lru.set('y', Buffer.alloc(1))
  lru.clear()
  t.equal(lru.size, 0)
  t.equal(lru.usedBytes, 0)
})

t.test('randomized against a model: budget always holds, recency order respected', async (t) => {
  const rng = seededRandom(t.comment.bind(t))
  const capacity = 20 * (64 + O)
  const lru = new LruCache<number, Buffer>(capacity, lengthOf)
  let model: Array<[number, number]> = [] // [key, size], least recent first
  for (let step = 0; step < 5000; step++) {
    const key = rng.int(40)
    if (rng.bool(0.6)) {
      const size = rng.range(1, 200)
      lru.set(key, Buffer.alloc(size))
      model = model.filter(([k]) => k !== key)
      model.push([key, size])
      let used = model.reduce((n, [, s]) => n + s + O, 0)
      while (used > capacity) used -= model.shift()![1] + O
    } else {
      const got = lru.get(key)
      const at = model.findIndex(([k]) => k === key)
      if ((got === undefined) !== (at < 0)) t.fail(`step ${step}: presence of ${key} differs`)
      if (at >= 0) model.push(...model.splice(at, 1))
    }
    if (lru.usedBytes > capacity) t.fail('over budget')
  }
  t.equal(lru.size, model.length, 'same entry count as the model')
  t.equal(lru.usedBytes, model.reduce((n, [, s]) => n + s + O, 0), 'same bytes as the model')
})
