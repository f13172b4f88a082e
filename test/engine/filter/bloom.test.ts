/**
 * Bloom filter: the hash matches leveldb's published vectors, no false negatives, a measured
 * false-positive rate near 1 % at 10 bits/key, k clamping and golden bytes.
 */
import t from 'tap'
import {
  BLOOM_PROBES_MAX, bloomHash, bloomMayContain, bloomMayContainHash, bloomProbes, buildBloomFilter, hash32,
} from '../../../src/engine/filter/bloom.js'
import { seededRandom } from '../../helpers/sstable-random.js'

t.test('hash32 matches leveldb util/hash_test.cc', async (t) => {
  const seed = 0xbc9f1d34
  t.equal(hash32(Buffer.alloc(0), seed), 0xbc9f1d34)
  t.equal(hash32(Buffer.from([0x62]), seed), 0xef1345c4)
  t.equal(hash32(Buffer.from([0xc3, 0x97]), seed), 0x5b663814)
  t.equal(hash32(Buffer.from([0xe2, 0x99, 0xa5]), seed), 0x323c078f)
  t.equal(hash32(Buffer.from([0xe1, 0x80, 0xb9, 0x32]), seed), 0xed21633a)
  const data5 = Buffer.alloc(48)
  for (const [i, b] of [[1, 0xc0], [16, 0x14], [22, 0x04], [27, 0x14], [31, 0x18], [32, 0x28], [40, 0x02]] as const) data5[i] = b
  data5[0] = 0x01
  t.equal(hash32(data5, 0x12345678), 0xf333dabb)
  t.equal(bloomHash(Buffer.from([0x62])), 0xef1345c4, 'bloomHash uses the leveldb bloom seed')
})

t.test('probes: round(bits * ln 2) clamped to 1..30', async (t) => {
  t.equal(bloomProbes(1), 1)
  t.equal(bloomProbes(2), 1)
  t.equal(bloomProbes(3), 2)
  t.equal(bloomProbes(10), 7)
  t.equal(bloomProbes(20), 14)
  t.equal(bloomProbes(64), BLOOM_PROBES_MAX)
  t.throws(() => buildBloomFilter([1], 0), /bitsPerKey/)
  t.throws(() => buildBloomFilter([1], 65), /bitsPerKey/)
})

t.test('golden: one key, 10 bits/key => 64-bit minimum, 7 probes', async (t) => {
  // h = bloomHash('b') = 0xef1345c4; delta = rotr(h, 17) = 0xa2e27789; bit_j = (h + j*delta) mod 64
  const h = 0xef1345c4
  const delta = ((h >>> 17) | (h << 15)) >>> 0
  t.equal(delta, 0xa2e27789)
  const expected = Buffer.alloc(9)
  let x = h
  for (let j = 0; j < 7; j++) {
    const bit = x % 64
    expected[bit >> 3] = expected[bit >> 3]! | (1 << (bit & 7))
    x = (x + delta) >>> 0
  }
  expected[8] = 7
  const filter = buildBloomFilter([bloomHash(Buffer.from('b'))], 10)
  t.equal(filter.toString('hex'), expected.toString('hex'))
  // By hand: 2^32 is a multiple of 64, so bit_j = (h mod 64 + j * (delta mod 64)) mod 64
  // = (4 + 9j) mod 64 = 4, 13, 22, 31, 40, 49, 58 -> bytes 10 20 40 80 00 01 02 04, then k = 07.
  t.equal(filter.toString('hex'), '1020408000010204' + '07')
})

t.test('no false negatives, false positives < 2 % at 10 bits/key', async (t) => {
  const rng = seededRandom(t.comment.bind(t))
  for (const n of [1, 10, 100, 1000, 10_000]) {
    const keys = Array.from({ length: n }, (_, i) => Buffer.from(`key-${i}-${rng.u32()}`))
    const filter = buildBloomFilter(keys.map(bloomHash), 10)
    t.ok(filter.length >= Math.ceil((n * 10) / 8), `${n} keys: at least 10 bits/key`)
    t.ok(keys.every((k) => bloomMayContain(filter, k)), `${n} keys: no false negatives`)
    if (n < 1000) continue
    let positives = 0
    const probes = 20_000
    for (let i = 0; i < probes; i++) if (bloomMayContain(filter, Buffer.from(`absent-${i}-${rng.u32()}`))) positives++
    const rate = positives / probes
    t.comment(`${n} keys: false-positive rate ${(rate * 100).toFixed(2)} %`)
    t.ok(rate < 0.02, `${n} keys: false-positive rate ${rate} < 2 %`)
  }
})

t.test('edge cases: empty filter, too-short filter, reserved k', async (t) => {
  const empty = buildBloomFilter([], 10)
  t.equal(empty.length, 9, 'zero keys still get the 64-bit minimum')
  t.notOk(bloomMayContain(empty, Buffer.from('x')), 'an empty filter contains nothing')
  t.notOk(bloomMayContain(Buffer.from([7]), Buffer.from('x')), 'shorter than 2 bytes: nothing')
  const reserved = Buffer.alloc(9)
  reserved[8] = 31
  t.ok(bloomMayContain(reserved, Buffer.from('x')), 'k > 30 is reserved: may contain')
  t.ok(bloomMayContainHash(buildBloomFilter([42], 10), 42), 'by precomputed hash')
  t.ok(bloomMayContain(buildBloomFilter([bloomHash(Buffer.alloc(0))], 10), Buffer.alloc(0)), 'empty key')
})
