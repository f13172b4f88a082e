/**
 * The YCSB key choosers of bench/zipfian.ts: the FNV hash is exact (against a BigInt reference
 * of YCSB's Utils.fnvhash64), draws stay in range and are reproducible from the seed, the
 * scrambled zipfian is as skewed as theta 0.99 says and spreads its popular items over the key
 * space, "latest" favours the newest acknowledged insert, and the acknowledged counter never
 * reports a number whose insert is still in flight.
 */
import t from 'tap'
import { Mulberry32 } from '../../bench/data.js'
import {
  AcknowledgedCounter, ScrambledZipfianGenerator, SkewedLatestGenerator, ZIPFIAN_CONSTANT, ZipfianGenerator, fnvHash64Mod, zeta,
} from '../../bench/zipfian.js'

/** YCSB Utils.fnvhash64(value) % modulus, in BigInt. */
function fnvReference(value: number, modulus: number): number {
  let hash = 0xcbf29ce484222325n
  let rest = BigInt(value)
  for (let i = 0; i < 8; i++) {
    hash ^= rest & 0xffn
    rest >>= 8n
    hash = (hash * 1099511628211n) & 0xffffffffffffffffn
  }
  let signed = BigInt.asIntN(64, hash)
  if (signed < 0n) signed = -signed
  return Number(signed % BigInt(modulus))
}

t.test('fnvHash64Mod is YCSB fnvhash64 modulo n, exactly', async (t) => {
  const prng = new Mulberry32(3)
  let mismatches = 0
  const cases = 20_000
  for (let i = 0; i < cases; i++) {
    const value = i < 1000 ? i : Math.floor(prng.float() * 1e10)
    const modulus = i % 3 === 0 ? 1_000_000 : 1 + prng.int(90_000_000)
    if (fnvHash64Mod(value, modulus) !== fnvReference(value, modulus)) mismatches++
  }
  t.equal(mismatches, 0, `${cases} values, small and up to 10^10`)
})

t.test('zipfian draws stay in [min, max] and repeat with the seed', async (t) => {
  const a = new ZipfianGenerator(5, 104, ZIPFIAN_CONSTANT, new Mulberry32(9))
  const b = new ZipfianGenerator(5, 104, ZIPFIAN_CONSTANT, new Mulberry32(9))
  const counts = new Array<number>(100).fill(0)
  let differ = 0
  let outside = 0
  for (let i = 0; i < 50_000; i++) {
    const x = a.next()
    if (x !== b.next()) differ++
    if (x < 5 || x > 104 || !Number.isInteger(x)) outside++
    else counts[x - 5]!++
  }
  t.equal(differ, 0, 'the same seed draws the same sequence')
  t.equal(outside, 0, 'every draw in range')
  // P(item 0) = 1 / zeta(100, 0.99): about 19%
  const expected = 50_000 / zeta(0, 100, ZIPFIAN_CONSTANT, 0)
  t.ok(Math.abs(counts[0]! - expected) < expected * 0.05, `item 0 drawn ${counts[0]} times, expected ~${Math.round(expected)}`)
  t.ok(counts[0]! > counts[1]! && counts[1]! > counts[10]! && counts[10]! > counts[99]!, 'popularity falls with rank')
})

t.test('the zipfian item count may grow (YCSB incremental zeta), never shrink', async (t) => {
  const g = new ZipfianGenerator(0, 9, ZIPFIAN_CONSTANT, new Mulberry32(1))
  let beyond = 0
  let grown = 0
  for (let i = 0; i < 1000; i++) {
    const x = g.next(20)
    if (x >= 20) beyond++
    if (x >= 10) grown++
  }
  t.equal(beyond, 0, 'draws stay below the grown count')
  t.ok(grown > 0, 'and reach the items added')
  t.throws(() => g.next(5), RangeError)
})

t.test('scrambled zipfian: theta 0.99 skew, spread over the key space, reproducible', async (t) => {
  const items = 100_000
  const draws = 200_000
  const g = new ScrambledZipfianGenerator(0, items - 1, new Mulberry32(21))
  const again = new ScrambledZipfianGenerator(0, items - 1, new Mulberry32(21))
  const counts = new Map<number, number>()
  for (let i = 0; i < draws; i++) {
    const x = g.next()
    if (x !== again.next()) t.fail('not reproducible')
    if (x < 0 || x >= items) t.fail(`draw ${x} out of range`)
    counts.set(x, (counts.get(x) ?? 0) + 1)
  }
  const ranked = [...counts].sort((a, b) => b[1] - a[1])
  // the hottest item of 10^10 has P = 1 / 26.469 = 3.8% (hash collisions can only add to it)
  const hottestShare = ranked[0]![1] / draws
  t.ok(hottestShare > 0.035 && hottestShare < 0.045, `hottest item: ${(hottestShare * 100).toFixed(2)}% of draws`)
  const top10 = ranked.slice(0, 10).map(([key]) => key)
  t.ok(Math.max(...top10) - Math.min(...top10) > items / 10, `popular keys spread out (${top10.join(', ')})`)
  t.ok(counts.size > items * 0.2 && counts.size < items, `${counts.size} distinct keys drawn: a long tail, not uniform`)
  t.throws(() => new ScrambledZipfianGenerator(0, 100_000_000, new Mulberry32(1)), RangeError)
})

t.test('acknowledged counter: lastValue is the highest number with every number below it acknowledged', async (t) => {
  const c = new AcknowledgedCounter(100, 10)
  t.equal(c.lastValue(), 99, 'the loaded records are there before any insert')
  const [a, b, d] = [c.next(), c.next(), c.next()]
  t.same([a, b, d], [100, 101, 102])
  c.acknowledge(101)
  t.equal(c.lastValue(), 99, 'a gap at 100 holds the limit back')
  c.acknowledge(100)
  t.equal(c.lastValue(), 101)
  c.acknowledge(102)
  t.equal(c.lastValue(), 102)
  for (let i = 0; i < 7; i++) c.next()
  t.throws(() => c.next(), RangeError, 'bounded')
})

t.test('skewed latest: draws never pass the newest acknowledged insert and favour it', async (t) => {
  const counter = new AcknowledgedCounter(1000, 100)
  const latest = new SkewedLatestGenerator(counter, new Mulberry32(5))
  let newest = 0
  for (let i = 0; i < 20_000; i++) {
    if (i % 1000 === 0) counter.acknowledge(counter.next())
    const x = latest.next()
    if (x < 0 || x > counter.lastValue()) t.fail(`draw ${x} beyond ${counter.lastValue()}`)
    if (x === counter.lastValue()) newest++
  }
  t.ok(newest / 20_000 > 0.1, `the newest record is drawn ${((newest / 20_000) * 100).toFixed(1)}% of the time`)
})
