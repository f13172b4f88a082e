/**
 * Memtable against a sorted-array model: random adds (many seqnos per key, seqnos shared by a
 * batch across keys, out-of-order adds), the iterator in both directions and under random
 * seeks, iterators that stay open while adds happen, range tombstone lookups against brute
 * force, the lazily rebuilt fragment cache, size accounting, and the asserted preconditions.
 */
import t from 'tap'
import { Memtable, ENTRY_OVERHEAD_BYTES } from '../../../src/engine/memtable/memtable.js'
import { KeyKind } from '../../../src/engine/base/internal-key.js'
import { AssertionError } from '../../../src/engine/base/assert.js'
import type { RangeTombstone } from '../../../src/engine/iterator/internal-iterator.js'
import {
  agreesWithModel, collectBackward, collectForward, compareEntries, current, describe, entry, KEY_ALPHABET,
  Random, seededRandom, type Entry,
} from '../../helpers/iterator-model.js'

const POINT_KINDS = [KeyKind.Put, KeyKind.Delete, KeyKind.Merge] as const

/** Random point entries over KEY_ALPHABET: seqnos rise, a batch shares one seqno across keys. */
function randomEntries(random: Random, count: number): Entry[] {
  const entries: Entry[] = []
  let seqno = 0
  while (entries.length < count) {
    seqno++
    const batchKeys = random.shuffle([...KEY_ALPHABET]).slice(0, 1 + random.int(3))
    for (const key of batchKeys) {
      const kind = random.pick(POINT_KINDS)
      entries.push(entry(key, seqno, kind, kind === KeyKind.Delete ? '' : `v${seqno}`))
    }
  }
  return entries
}

function fill(entries: readonly Entry[]): Memtable {
  const mem = new Memtable()
  for (const e of entries) mem.add(e.key, e.seqno, e.kind, e.value)
  return mem
}

t.test('an empty memtable', (t) => {
  const mem = new Memtable()
  t.ok(mem.isEmpty)
  t.equal(mem.entryCount, 0)
  t.equal(mem.approximateBytes, 0)
  t.equal(mem.smallestSeqno, 0)
  t.equal(mem.largestSeqno, 0)
  t.equal(mem.maxCoveringTombstoneSeqno(Buffer.from('a'), 100), 0)
  t.same(mem.rangeTombstones(), [])
  const it = mem.newIterator()
  it.first()
  t.notOk(it.valid)
  it.seekGE(Buffer.from('a'))
  t.notOk(it.valid)
  it.close()
  t.end()
})

t.test('random adds match the sorted model in every direction and under random seeks', (t) => {
  const random = seededRandom(t)
  for (let round = 0; round < 5; round++) {
    const entries = randomEntries(random, 200 + random.int(2000))
    // Recovery and the write path add in seqno order, but order must not matter.
    const mem = fill(round % 2 === 0 ? entries : random.shuffle([...entries]))
    const model = [...entries].sort(compareEntries)
    const want = model.map(describe).join(' ')
    t.equal(mem.entryCount, entries.length)
    t.equal(collectForward(mem.newIterator()).map(describe).join(' '), want, 'forward')
    t.equal(collectBackward(mem.newIterator()).map(describe).reverse().join(' '), want, 'backward')
    const seqnos = entries.map((e) => e.seqno)
    t.equal(mem.smallestSeqno, Math.min(...seqnos))
    t.equal(mem.largestSeqno, Math.max(...seqnos))
    const payload = entries.reduce((n, e) => n + e.key.length + e.value.length + ENTRY_OVERHEAD_BYTES, 0)
    t.equal(mem.approximateBytes, payload)
    const maxSeqno = Math.max(...seqnos)
    agreesWithModel(t, mem.newIterator(), model, random, { steps: 3000, keys: KEY_ALPHABET, seqnoMax: maxSeqno })
  }
  t.end()
})

t.test('seekGE with a read seqno lands on the newest visible version', (t) => {
  const mem = new Memtable()
  for (const seqno of [3, 7, 10]) mem.add(Buffer.from('k'), seqno, KeyKind.Put, Buffer.from(`v${seqno}`))
  mem.add(Buffer.from('l'), 1, KeyKind.Put, Buffer.from('l1'))
  const it = mem.newIterator()
  const at = (seqno?: number): string => {
    it.seekGE(Buffer.from('k'), seqno)
    return describe(current(it))
  }
  t.equal(at(), describe(entry('k', 10, KeyKind.Put, 'v10')), 'no seqno: the newest')
  t.equal(at(10), describe(entry('k', 10, KeyKind.Put, 'v10')), 'equal seqno is visible')
  t.equal(at(9), describe(entry('k', 7, KeyKind.Put, 'v7')))
  t.equal(at(3), describe(entry('k', 3, KeyKind.Put, 'v3')))
  t.equal(at(2), describe(entry('l', 1, KeyKind.Put, 'l1')), 'nothing visible: the next key')
  it.seekLT(Buffer.from('l'))
  t.equal(describe(current(it)), describe(entry('k', 3, KeyKind.Put, 'v3')), 'seekLT: oldest version of the key before')
  it.close()
  t.end()
})

/**
 * The iterator contract under concurrent adds: after each step, the iterator is on the
 * neighbour (in its direction) of the entry it was on, in the memtable as it is now.
 */
t.test('an open iterator stays valid and ordered across concurrent adds', (t) => {
  const random = seededRandom(t)
  const pool = randomEntries(random, 4000)
  random.shuffle(pool)
  const mem = fill(pool.slice(0, 100))
  const model = pool.slice(0, 100).sort(compareEntries)
  const it = mem.newIterator()
  it.first()
  let added = 100
  let steps = 0
  let failures = 0
  while (added < pool.length && failures === 0) {
    for (let n = random.int(20); n > 0 && added < pool.length; n--) {
      const e = pool[added++] as Entry
      mem.add(e.key, e.seqno, e.kind, e.value)
      model.splice(lowerBound(model, e), 0, e)
    }
    if (!it.valid) {
      if (random.int(2) === 0) it.first()
      else it.last()
      continue
    }
    const was = current(it) as Entry
    const index = lowerBound(model, was)
    const forward = random.int(3) !== 0
    if (forward) it.next()
    else it.prev()
    steps++
    const want = describe(model[forward ? index + 1 : index - 1])
    if (describe(current(it)) !== want) {
      failures++
      t.fail(`step ${steps} ${forward ? 'next' : 'prev'} from ${describe(was)}: got ${describe(current(it))}, want ${want}`)
    }
  }
  t.equal(failures, 0, `${steps} steps interleaved with ${pool.length - 100} adds`)
  it.close()
  t.equal(collectForward(mem.newIterator()).map(describe).join(' '), model.map(describe).join(' '))
  t.end()
})

function lowerBound(model: readonly Entry[], e: Entry): number {
  let low = 0
  let high = model.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if (compareEntries(model[mid] as Entry, e) < 0) low = mid + 1
    else high = mid
  }
  return low
}

function bruteMaxCovering(tombstones: readonly RangeTombstone[], key: Buffer, readSeqno: number): number {
  let best = 0
  for (const r of tombstones) {
    if (Buffer.compare(r.start, key) <= 0 && Buffer.compare(key, r.end) < 0 && r.seqno <= readSeqno) {
      best = Math.max(best, r.seqno)
    }
  }
  return best
}

t.test('range tombstones: lookups match brute force, the fragment cache follows adds', (t) => {
  const random = seededRandom(t)
  const mem = new Memtable()
  const added: RangeTombstone[] = []
  let seqno = 0
  for (let round = 0; round < 30; round++) {
    for (let n = random.int(4); n > 0; n--) {
      let start = random.pick(KEY_ALPHABET)
      let end = random.pick(KEY_ALPHABET)
      const order = Buffer.compare(start, end)
      if (order === 0) continue
      if (order > 0) [start, end] = [end, start]
      seqno += 1 + random.int(3)
      mem.addRangeTombstone(start, end, seqno)
      added.push({ start, end, seqno })
    }
    let mismatches = 0
    for (const key of KEY_ALPHABET) {
      for (let readSeqno = 0; readSeqno <= seqno + 1; readSeqno++) {
        if (mem.maxCoveringTombstoneSeqno(key, readSeqno) !== bruteMaxCovering(added, key, readSeqno)) mismatches++
      }
    }
    t.equal(mismatches, 0, `round ${round}: ${added.length} tombstones`)
  }
  t.same(mem.rangeTombstones(), added, 'kept in the order added')
  t.equal(mem.entryCount, added.length)
  t.equal(mem.largestSeqno, seqno)
  t.end()
})

t.test('tombstones and points count together and share the seqno range', (t) => {
  const mem = new Memtable()
  mem.addRangeTombstone(Buffer.from('a'), Buffer.from('m'), 9)
  t.notOk(mem.isEmpty, 'a tombstone alone makes the memtable non-empty')
  t.equal(mem.approximateBytes, 2 + ENTRY_OVERHEAD_BYTES)
  mem.add(Buffer.from('b'), 4, KeyKind.Put, Buffer.from('vv'))
  t.equal(mem.entryCount, 2)
  t.equal(mem.smallestSeqno, 4)
  t.equal(mem.largestSeqno, 9)
  t.equal(mem.approximateBytes, 2 + 3 + 2 * ENTRY_OVERHEAD_BYTES)
  t.equal(collectForward(mem.newIterator()).length, 1, 'the iterator yields point entries only')
  t.equal(mem.maxCoveringTombstoneSeqno(Buffer.from('b'), 8), 0, 'a tombstone above the read seqno is invisible')
  t.equal(mem.maxCoveringTombstoneSeqno(Buffer.from('b'), 9), 9)
  t.equal(mem.maxCoveringTombstoneSeqno(Buffer.from('m'), 9), 0, 'end is exclusive')
  t.equal(mem.maxCoveringTombstoneSeqno(Buffer.from('a'), 9), 9, 'start is inclusive')
  t.end()
})

t.test('the memtable copies keys and values into its arena', (t) => {
  const mem = new Memtable()
  const key = Buffer.from('key')
  const value = Buffer.from('value')
  mem.add(key, 1, KeyKind.Put, value)
  key.fill(0x7a)
  value.fill(0x7a)
  const it = mem.newIterator()
  it.first()
  t.equal(it.key.toString(), 'key', 'the caller may reuse its key buffer')
  t.equal(it.value.toString(), 'value', 'and its value buffer')
  t.not(it.key.buffer, key.buffer)
  // Large values get a slab of their own; empty values and long keys round trip.
  const big = Buffer.alloc(300_000, 0x42)
  mem.add(Buffer.from('big'), 2, KeyKind.Put, big)
  mem.add(Buffer.alloc(65_535, 0x61), 3, KeyKind.Put, Buffer.alloc(0))
  const seen = collectForward(mem.newIterator())
  t.same(seen.map((e) => [e.key.length, e.value.length]), [[65_535, 0], [3, 300_000], [3, 5]])
  t.ok(seen[1]!.value.equals(big))
  t.end()
})

t.test('visitKey offers the visible versions of one key, newest first, until declined', (t) => {
  const random = seededRandom(t)
  const entries: Entry[] = []
  for (let i = 1; i <= 400; i++) {
    entries.push(entry(`k${random.int(20)}`, i, random.int(3) === 0 ? KeyKind.Merge : KeyKind.Put, `v${i}`))
  }
  const mem = fill(entries)
  for (let probe = 0; probe < 300; probe++) {
    const key = `k${random.int(22)}`
    const readSeqno = random.int(420)
    const limit = 1 + random.int(4)
    const got: string[] = []
    mem.visitKey(Buffer.from(key), readSeqno, {
      offer: (seqno, kind, data, start, end) => {
        got.push(`${seqno}/${kind}=${data.subarray(start, end).toString()}`)
        return got.length < limit
      },
    })
    const want = entries
      .filter((e) => e.key.toString() === key && e.seqno <= readSeqno)
      .sort((a, b) => b.seqno - a.seqno)
      .slice(0, limit)
      .map((e) => `${e.seqno}/${e.kind}=${e.value.toString()}`)
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      t.same(got, want, `${key} at ${readSeqno}, ${limit} offers`)
      break
    }
  }
  let offers = 0
  new Memtable().visitKey(Buffer.from('a'), 10, { offer: () => ++offers > 0 })
  t.equal(offers, 0, 'an empty memtable offers nothing')
  t.end()
})

t.test('preconditions are asserted', (t) => {
  const mem = new Memtable()
  mem.add(Buffer.from('k'), 5, KeyKind.Put, Buffer.from('v'))
  const k = Buffer.from('k')
  t.throws(() => mem.add(k, 5, KeyKind.Merge, Buffer.from('w')), AssertionError, 'duplicate (key, seqno)')
  t.throws(() => mem.add(k, 6, KeyKind.RangeDelete, Buffer.from('z')), AssertionError, 'range delete is not a point kind')
  t.throws(() => mem.add(k, 0, KeyKind.Put, Buffer.from('v')), AssertionError, 'seqno 0')
  t.throws(() => mem.add(k, 1.5, KeyKind.Put, Buffer.from('v')), AssertionError, 'fractional seqno')
  t.throws(() => mem.add(Buffer.alloc(0), 7, KeyKind.Put, Buffer.from('v')), AssertionError, 'empty key')
  t.throws(() => mem.add(Buffer.alloc(65_536), 7, KeyKind.Put, Buffer.from('v')), AssertionError, 'key too long')
  t.throws(() => mem.addRangeTombstone(Buffer.from('b'), Buffer.from('b'), 8), AssertionError, 'empty range')
  t.throws(() => mem.addRangeTombstone(Buffer.from('c'), Buffer.from('b'), 8), AssertionError, 'inverted range')
  t.equal(mem.entryCount, 1, 'failed adds change nothing')
  t.equal(mem.largestSeqno, 5)
  t.end()
})

t.test('iterator accessors and steps after close or off the end are programmer errors', (t) => {
  const mem = fill([entry('a', 1)])
  const it = mem.newIterator()
  it.last()
  it.next()
  t.notOk(it.valid)
  t.throws(() => it.key, AssertionError)
  t.throws(() => it.next(), AssertionError)
  it.close()
  it.close()
  t.throws(() => it.first(), AssertionError, 'no use after close')
  t.end()
})
