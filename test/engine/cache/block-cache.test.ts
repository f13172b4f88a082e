/**
 * BlockCache: keyed by (file number, offset) including offsets beyond 2^32, evictFile drops
 * exactly one file's blocks, CLOCK gives referenced blocks a second chance, charges are the
 * backing store plus the fixed overhead, and a randomized run against a model keeps the
 * budget, the counters and the two indexes (map and ring) in step.
 */
import t from 'tap'
import { BLOCK_CACHE_ENTRY_OVERHEAD_BYTES, BlockCache, blockChargeBytes } from '../../../src/engine/cache/block-cache.js'
import { Block } from '../../../src/engine/sstable/block.js'
import { seededRandom } from '../../helpers/sstable-random.js'

const O = BLOCK_CACHE_ENTRY_OVERHEAD_BYTES

/** A parseable block of exactly `bytes` bytes (>= 8) on its own ArrayBuffer. */
function block(bytes: number, fill = 0): Block {
  const data = Buffer.alloc(bytes, fill)
  data.writeUInt32LE(0, bytes - 8) // restart 0
  data.writeUInt32LE(1, bytes - 4) // one restart
  return Block.parse(Buffer.from(data.buffer.slice(0, bytes)), 'test.sst', 0)
}

t.test('get/set by (fileNumber, offset); large offsets and file numbers do not collide', async (t) => {
  const cache = new BlockCache(1 << 20)
  const a = block(8)
  const b = block(16)
  cache.set(1, 2 ** 32, a)
  cache.set(2, 0, b)
  cache.set(2 ** 40, 7, block(16, 1))
  t.equal(cache.get(1, 2 ** 32), a)
  t.equal(cache.get(2, 0), b)
  t.equal(cache.get(1, 0), undefined)
  t.equal(cache.get(12, 0), undefined, '1:20 vs 12:0 style collisions impossible')
  t.equal(cache.get(2 ** 40, 7)?.data[0], 1)
  const s = cache.stats()
  t.equal(s.hits, 3)
  t.equal(s.misses, 2)
  t.equal(s.entries, 3)
  t.equal(s.usedBytes, 8 + 16 + 16 + 3 * O)
})

t.test('the charge is the whole backing store, not the view', async (t) => {
  const backing = Buffer.alloc(10_000)
  backing.writeUInt32LE(0, 92)
  backing.writeUInt32LE(1, 96)
  const view = Block.parse(backing.subarray(0, 100), 'test.sst', 0)
  t.equal(blockChargeBytes(view), backing.buffer.byteLength + O)
  const cache = new BlockCache(1 << 20)
  cache.set(1, 0, view)
  t.equal(cache.stats().usedBytes, backing.buffer.byteLength + O)
})

t.test('evictFile drops only that file', async (t) => {
  const cache = new BlockCache(1 << 20)
  for (let i = 0; i < 10; i++) {
    cache.set(5, i * 4096, block(10))
    cache.set(6, i * 4096, block(10))
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
  t.equal(cache.stats().usedBytes, 10 * (10 + O))
  t.equal(cache.stats().entries, 10)
  cache.evictFile(6)
  t.equal(cache.stats().usedBytes, 0)
  cache.set(6, 0, block(10))
  t.ok(cache.get(6, 0), 'the ring works again after it was emptied')
})

t.test('CLOCK: a block hit since the hand last passed gets a second chance', async (t) => {
  const per = 100 + O
  const cache = new BlockCache(3 * per)
  cache.set(1, 0, block(100)) // a
  cache.set(1, 1, block(100)) // b
  cache.set(1, 2, block(100)) // c
  t.ok(cache.get(1, 0), 'a is referenced')
  cache.set(1, 3, block(100)) // d: b goes (a had its bit set)
  t.ok(cache.get(1, 0))
  t.equal(cache.get(1, 1), undefined, 'b evicted')
  cache.set(1, 4, block(100)) // e
  t.equal(cache.get(1, 2), undefined, 'c evicted next')
  t.ok(cache.get(1, 3) && cache.get(1, 4), 'd and e kept')
  t.equal(cache.stats().evictions, 2)
})

t.test('oversize blocks, replacement, capacity 0', async (t) => {
  const per = 100 + O
  const cache = new BlockCache(4 * per)
  for (let i = 0; i < 8; i++) cache.set(1, i, block(100))
  t.equal(cache.stats().evictions, 4)
  cache.set(2, 0, block(100))
  cache.evictFile(1)
  t.equal(cache.stats().usedBytes, per, 'only the block of file 2 is left')
  cache.set(2, 0, block(50))
  t.equal(cache.stats().usedBytes, 50 + O, 'a replacement is charged once')
  t.ok(cache.get(2, 0))
  cache.set(2, 0, block(10 * per))
  t.equal(cache.get(2, 0), undefined, 'an oversize replacement removes the old block')
  t.equal(cache.stats().usedBytes, 0)
  t.equal(cache.stats().entries, 0)
  const off = new BlockCache(0)
  off.set(1, 0, block(8))
  t.equal(off.get(1, 0), undefined, 'capacity 0 disables caching')
  t.throws(() => new BlockCache(-1), /capacity/)
})

t.test('randomized against a model: budget, counters and both indexes stay in step', async (t) => {
  const rng = seededRandom(t.comment.bind(t))
  const capacity = 20 * (200 + O)
  const cache = new BlockCache(capacity)
  /** What the cache may hold: (file, offset) -> block last set there. */
  const model = new Map<string, Block>()
  let hits = 0
  let misses = 0
  for (let step = 0; step < 20_000; step++) {
    const file = rng.int(6)
    const offset = rng.int(40) * 4096
    const key = `${file}:${offset}`
    const op = rng.int(100)
    if (op < 45) {
      const b = block(8 + rng.int(400))
      cache.set(file, offset, b)
      model.set(key, b)
    } else if (op < 98) {
      const got = cache.get(file, offset)
      if (got === undefined) misses++
      else {
        hits++
        t.equal(got, model.get(key), 'a hit returns the block last set there')
        if (got !== model.get(key)) break
      }
    } else {
      cache.evictFile(file)
      for (const k of [...model.keys()]) if (k.startsWith(`${file}:`)) model.delete(k)
    }
    const s = cache.stats()
    if (s.usedBytes > capacity) {
      t.fail(`over budget at step ${step}`)
      break
    }
  }
  // Everything still cached is charged exactly once.
  let charged = 0
  let entries = 0
  for (const [key, b] of model) {
    const [file, offset] = key.split(':').map(Number) as [number, number]
    const before = cache.stats().hits
    const got = cache.get(file, offset)
    if (got !== undefined) {
      t.equal(got, b)
      charged += blockChargeBytes(b)
      entries++
      hits++
    } else misses++
    t.ok(cache.stats().hits >= before)
  }
  const s = cache.stats()
  t.equal(s.usedBytes, charged, 'usedBytes is the sum of the charges of what is cached')
  t.equal(s.entries, entries)
  t.equal(s.hits, hits)
  t.equal(s.misses, misses)
  t.ok(s.evictions > 0, 'the run evicted')
})

t.test('slots and spares: a spare is only ever the buffer of an evicted, never-escaped block', async (t) => {
  const rng = seededRandom(t.comment.bind(t))
  const per = 100 + O
  const cache = new BlockCache(10 * per)
  const slots: (ReturnType<BlockCache['lookup']>)[] = new Array(40).fill(undefined)
  /** Buffers of blocks that escaped (handed to an iterator or a keyed get): never a spare. */
  const escaped = new Set<ArrayBuffer>()
  /** Buffers taken as spares and not yet given a block: the test owns them. */
  let taken = 0
  for (let step = 0; step < 20_000; step++) {
    const slot = rng.int(slots.length)
    const op = rng.int(100)
    if (op < 50) {
      const hit = cache.lookup(slots, slot)
      if (hit !== undefined) {
        t.equal(hit, slots[slot], 'a hit is the entry in the slot')
        if (rng.bool(0.1)) {
          hit.escaped = true
          escaped.add(hit.block.data.buffer as ArrayBuffer)
        }
        continue
      }
      const spare = cache.takeSpare(100, 100)
      let b: Block
      if (spare !== undefined) {
        taken++
        const cached = new Set<ArrayBufferLike>()
        for (const e of slots) if (e !== undefined) cached.add(e.block.data.buffer)
        if (cached.has(spare) || escaped.has(spare)) {
          t.fail(`step ${step}: a spare aliases a cached or escaped block`)
          break
        }
        const data = Buffer.from(spare, 0, 100).fill(0)
        data.writeUInt32LE(0, 92)
        data.writeUInt32LE(1, 96)
        b = Block.parse(data, 'test.sst', 0)
      } else {
        b = block(100)
      }
      cache.set(1, slot * 4096, b, slots, slot, true)
      t.equal(slots[slot]?.block, b, 'set fills the slot')
    } else if (op < 52) {
      cache.evictFile(1)
      t.ok(slots.every((e) => e === undefined), 'evictFile clears the slots')
    }
  }
  t.ok(taken > 1000, `spares were reused (${taken})`)
  t.ok(cache.stats().usedBytes <= 10 * per)
})
