/**
 * Range-del block: fragmenting against a brute-force model (coverage of every point is
 * preserved), golden bytes, and validation of hostile blocks.
 */
import t from 'tap'
import { isCorruption } from '../../../src/engine/errors.js'
import type { RangeTombstone } from '../../../src/engine/iterator/internal-iterator.js'
import {
  decodeRangeDelBlock, encodeRangeDelBlock, fragmentTombstones, type RangeDelFragment,
} from '../../../src/engine/sstable/range-del-block.js'
import { seededRandom } from '../../helpers/sstable-random.js'

const b = (s: string) => Buffer.from(s)

/** Seqnos covering `key` per the raw tombstones, descending and unique. */
function coverRaw(ts: readonly RangeTombstone[], key: Buffer): number[] {
  const s = ts.filter((x) => Buffer.compare(x.start, key) <= 0 && Buffer.compare(key, x.end) < 0).map((x) => x.seqno)
  return [...new Set(s)].sort((x, y) => y - x)
}

function coverFragments(fs: readonly RangeDelFragment[], key: Buffer): number[] {
  const f = fs.find((x) => Buffer.compare(x.start, key) <= 0 && Buffer.compare(key, x.end) < 0)
  return f === undefined ? [] : f.seqnos
}

t.test('golden: two overlapping tombstones', async (t) => {
  const fragments = fragmentTombstones([
    { start: b('a'), end: b('c'), seqno: 5 },
    { start: b('b'), end: b('d'), seqno: 9 },
  ])
  t.same(fragments, [
    { start: b('a'), end: b('b'), seqnos: [5] },
    { start: b('b'), end: b('c'), seqnos: [9, 5] },
    { start: b('c'), end: b('d'), seqnos: [9] },
  ])
  // count 3 | 'a' 'b' 1 [5] | 'b' 'c' 2 [9 5] | 'c' 'd' 1 [9]
  t.equal(encodeRangeDelBlock(fragments).toString('hex'),
    '03' + '0161' + '0162' + '01' + '05' + '0162' + '0163' + '02' + '0905' + '0163' + '0164' + '01' + '09')
})

t.test('adjacent pieces with equal seqnos merge; duplicates collapse', async (t) => {
  t.same(fragmentTombstones([
    { start: b('a'), end: b('c'), seqno: 5 },
    { start: b('c'), end: b('e'), seqno: 5 },
    { start: b('a'), end: b('e'), seqno: 5 },
  ]), [{ start: b('a'), end: b('e'), seqnos: [5] }])
  t.same(fragmentTombstones([]), [])
})

t.test('randomized: fragments are sorted, disjoint, and cover exactly like the input', async (t) => {
  const rng = seededRandom(t.comment.bind(t))
  for (let round = 0; round < 200; round++) {
    const ts: RangeTombstone[] = []
    for (let i = rng.range(1, 12); i > 0; i--) {
      let start = rng.keyBytes(0, 3, 4)
      let end = rng.keyBytes(0, 3, 4)
      const c = Buffer.compare(start, end)
      if (c === 0) end = Buffer.concat([end, b('a')])
      if (c > 0) [start, end] = [end, start]
      ts.push({ start, end, seqno: rng.range(1, 20) })
    }
    const fs = fragmentTombstones(ts)
    for (let i = 1; i < fs.length; i++) {
      if (Buffer.compare(fs[i - 1]!.end, fs[i]!.start) > 0) t.fail(`round ${round}: overlap`)
    }
    const decoded = decodeRangeDelBlock(encodeRangeDelBlock(fs), 'r.sst', 0)
    if (JSON.stringify(decoded) !== JSON.stringify(fs)) t.fail(`round ${round}: block round trip`)
    const probes = [b(''), ...ts.flatMap((x) => [x.start, x.end, Buffer.concat([x.start, b('a')])])]
    for (let i = 0; i < 20; i++) probes.push(rng.keyBytes(0, 4, 5))
    for (const key of probes) {
      if (JSON.stringify(coverRaw(ts, key)) !== JSON.stringify(coverFragments(fs, key))) {
        t.fail(`round ${round}: coverage of ${key.toString('hex')} differs`)
      }
    }
  }
  t.pass('200 random tombstone sets fragment correctly')
})

t.test('hostile blocks => CORRUPTION naming the file and block offset', async (t) => {
  const cases: Array<[string, string]> = [
    ['empty', ''],
    ['zero fragments', '00'],
    ['count beyond the bytes', 'ff01' + '0161016201' + '05'],
    ['start >= end', '01' + '0162' + '0161' + '01' + '05'],
    ['overlapping fragments', '02' + '0161' + '0163' + '0105' + '0162' + '0164' + '0105'],
    ['seqnos not descending', '01' + '0161' + '0162' + '02' + '0509'],
    ['zero seqnos', '01' + '0161' + '0162' + '00' + '0000'],
    ['trailing bytes', '01' + '0161' + '0162' + '01' + '05' + '00'],
    ['truncated', '01' + '0161' + '0162' + '02' + '09'],
  ]
  for (const [what, hex] of cases) {
    let err: unknown
    try {
      decodeRangeDelBlock(Buffer.from(hex, 'hex'), 'r.sst', 77)
    } catch (e) {
      err = e
    }
    t.ok(isCorruption(err) && err.offset === 77 && err.file === 'r.sst', `${what}: CORRUPTION`)
  }
})
