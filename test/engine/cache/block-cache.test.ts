/**
 * BlockCache: keyed by (file number, offset) including offsets beyond 2^32, evictFile drops
 * exactly one file's blocks, stats, and the per-file index stays in step with LRU evictions.
 */
import t from 'tap'
import { BlockCache } from '../../../src/engine/cache/block-cache.js'
import { LRU_ENTRY_OVERHEAD_BYTES } from '../../../src/engine/cache/lru.js'

t.test('get/set by (fileNumber, offset); large offsets and file numbers do not collide', async (t) => {
  const cache = new BlockCache(1 << 20)
  const a = Buffer.from('a')
  const b = Buffer.from('b')
  cache.set(1, 2 ** 32, a)
  cache.set(2, 0, b)
  cache.set(2 ** 40, 7, Buffer.from('c'))
  t.equal(cache.get(1, 2 ** 32), a)
  t.equal(cache.get(2, 0), b)
  t.equal(cache.get(1, 0), undefined)
  t.equal(cache.get(12, 0), undefined, '1:20 vs 12:0 style collisions impossible')
  t.equal(cache.get(2 ** 40, 7)?.toString(), 'c')
  const s = cache.stats()
  t.equal(s.hits, 3)
  t.equal(s.misses, 2)
  t.equal(s.usedBytes, 3 * (1 + LRU_ENTRY_OVERHEAD_BYTES))
})

t.test('evictFile drops only that file', async (t) => {
  const cache = new BlockCache(1 << 20)
  for (let i = 0; i < 10; i++) {
    cache.set(5, i * 4096, Buffer.alloc(10))
    cache.set(6, i * 4096, Buffer.alloc(10))
  }
  cache.evictFile(5)
  cache.evictFile(99)
  let five = 0
  let six = 0
  for (let i = 0; i < 10; i++) {
    if (cache.get(5, i * 4096)) five++
    if (cache.get(6, i * 4096)) six++
  }
  t.equal(five, 0)
  t.equal(six, 10)
  t.equal(cache.stats().usedBytes, 10 * (10 + LRU_ENTRY_OVERHEAD_BYTES))
})

t.test('capacity evictions keep the per-file index consistent', async (t) => {
  const per = 100 + LRU_ENTRY_OVERHEAD_BYTES
  const cache = new BlockCache(4 * per)
  for (let i = 0; i < 8; i++) cache.set(1, i, Buffer.alloc(100))
  t.equal(cache.stats().evictions, 4)
  cache.set(2, 0, Buffer.alloc(100))
  cache.evictFile(1)
  t.equal(cache.stats().usedBytes, per, 'only the block of file 2 is left')
  t.ok(cache.get(2, 0))
  cache.set(2, 0, Buffer.alloc(10 * per))
  t.equal(cache.get(2, 0), undefined, 'an oversize replacement removes the old block')
  t.equal(cache.stats().usedBytes, 0)
  const off = new BlockCache(0)
  off.set(1, 0, Buffer.alloc(1))
  t.equal(off.get(1, 0), undefined, 'capacity 0 disables caching')
})
