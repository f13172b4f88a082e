/**
 * Range tombstone fragmentation: hand-derived fragment lists for the classic overlap shapes,
 * the structural invariants of any output, and a brute-force model over a small key alphabet
 * (for every key and read seqno, maxCoveringSeqno and covers() equal the brute force).
 */
import t from 'tap'
import { fragmentTombstones, FragmentedTombstones, type TombstoneFragment } from '../../../src/engine/iterator/range-tombstones.js'
import type { RangeTombstone } from '../../../src/engine/iterator/internal-iterator.js'
import { AssertionError } from '../../../src/engine/base/assert.js'
import { KEY_ALPHABET, Random, seededRandom } from '../../helpers/iterator-model.js'

function tomb(start: string, end: string, seqno: number): RangeTombstone {
  return { start: Buffer.from(start), end: Buffer.from(end), seqno }
}

/** Fragments as `[start,end){s1,s2}` strings, the notation of pebble's docs. */
function show(fragments: readonly TombstoneFragment[]): string[] {
  return fragments.map((f) => `[${f.start.toString()},${f.end.toString()}){${f.seqnos.join(',')}}`)
}

t.test('hand-derived fragment lists', (t) => {
  const cases: [string, RangeTombstone[], string[]][] = [
    ['none', [], []],
    ['one', [tomb('a', 'c', 3)], ['[a,c){3}']],
    ['overlap (the header example)', [tomb('a', 'e', 5), tomb('c', 'g', 9)], ['[a,c){5}', '[c,e){9,5}', '[e,g){9}']],
    ['nested', [tomb('a', 'z', 1), tomb('m', 'n', 8)], ['[a,m){1}', '[m,n){8,1}', '[n,z){1}']],
    ['disjoint with a gap', [tomb('p', 'q', 2), tomb('a', 'b', 4)], ['[a,b){4}', '[p,q){2}']],
    ['abutting', [tomb('a', 'b', 4), tomb('b', 'c', 2)], ['[a,b){4}', '[b,c){2}']],
    ['identical ranges', [tomb('a', 'b', 4), tomb('a', 'b', 7)], ['[a,b){7,4}']],
    ['same seqno twice is listed once', [tomb('a', 'c', 4), tomb('b', 'd', 4)], ['[a,b){4}', '[b,c){4}', '[c,d){4}']],
    ['shared start', [tomb('a', 'c', 1), tomb('a', 'b', 2)], ['[a,b){2,1}', '[b,c){1}']],
    ['prefix keys', [tomb('a', 'a\x00', 3), tomb('a', 'aa', 1)], ['[a,a\x00){3,1}', '[a\x00,aa){1}']],
  ]
  for (const [name, input, want] of cases) t.same(show(fragmentTombstones(input)), want, name)
  t.end()
})

t.test('fragments share the input buffers and never modify the input', (t) => {
  const input = [tomb('c', 'g', 9), tomb('a', 'e', 5)]
  const before = JSON.stringify(input)
  const fragments = fragmentTombstones(input)
  t.equal(JSON.stringify(input), before, 'input order and contents unchanged')
  t.equal(fragments[0]?.start, input[1]?.start, 'start buffer shared')
  t.equal(fragments[2]?.end, input[0]?.end, 'end buffer shared')
  t.end()
})

t.test('queries on the header example', (t) => {
  const f = FragmentedTombstones.from([tomb('a', 'e', 5), tomb('c', 'g', 9)])
  t.notOk(f.isEmpty)
  const q = (key: string, read: number): number => f.maxCoveringSeqno(Buffer.from(key), read)
  t.equal(q('0', 100), 0, 'before every fragment')
  t.equal(q('a', 100), 5, 'start inclusive')
  t.equal(q('b', 4), 0, 'tombstone newer than the read')
  t.equal(q('d', 100), 9)
  t.equal(q('d', 8), 5, 'older covering tombstone under a read below the newer one')
  t.equal(q('f', 8), 0)
  t.equal(q('g', 100), 0, 'end exclusive')
  t.ok(f.covers(Buffer.from('d'), 8, 9), 'entry #8 under tombstone #9')
  t.notOk(f.covers(Buffer.from('d'), 9, 9), 'an entry with the tombstone\'s seqno survives')
  t.notOk(f.covers(Buffer.from('d'), 8, 8), 'invisible tombstones delete nothing')
  t.ok(f.covers(Buffer.from('d'), 4, 8), 'the older tombstone #5 still deletes #4')
  t.ok(FragmentedTombstones.from([]).isEmpty)
  t.equal(FragmentedTombstones.from([]).maxCoveringSeqno(Buffer.from('a'), 9), 0)
  t.end()
})

t.test('invalid tombstones are programmer errors', (t) => {
  t.throws(() => fragmentTombstones([tomb('b', 'b', 1)]), AssertionError, 'empty')
  t.throws(() => fragmentTombstones([tomb('c', 'b', 1)]), AssertionError, 'inverted')
  t.throws(() => fragmentTombstones([tomb('a', 'b', -1)]), AssertionError, 'negative seqno')
  t.end()
})

function randomTombstones(random: Random, count: number, seqnoMax: number): RangeTombstone[] {
  const out: RangeTombstone[] = []
  while (out.length < count) {
    let start = random.pick(KEY_ALPHABET)
    let end = random.pick(KEY_ALPHABET)
    const order = Buffer.compare(start, end)
    if (order === 0) continue
    if (order > 0) [start, end] = [end, start]
    out.push({ start, end, seqno: 1 + random.int(seqnoMax) })
  }
  return out
}

/** Non-overlapping, sorted, non-empty, descending unique seqnos. */
function structuralErrors(fragments: readonly TombstoneFragment[]): string[] {
  const errors: string[] = []
  fragments.forEach((f, i) => {
    if (Buffer.compare(f.start, f.end) >= 0) errors.push(`fragment ${i} empty`)
    if (f.seqnos.length === 0) errors.push(`fragment ${i} has no seqnos`)
    for (let j = 1; j < f.seqnos.length; j++) {
      if ((f.seqnos[j - 1] as number) <= (f.seqnos[j] as number)) errors.push(`fragment ${i} seqnos not descending`)
    }
    const next = fragments[i + 1]
    if (next !== undefined && Buffer.compare(f.end, next.start) > 0) errors.push(`fragments ${i}, ${i + 1} overlap`)
  })
  return errors
}

/** Every byte string a fragment boundary can fall between: the alphabet and one key past each. */
const PROBES = KEY_ALPHABET.flatMap((k) => [k, Buffer.concat([k, Buffer.from([0])])])

t.test('random tombstones agree with brute force for every key and read seqno', (t) => {
  const random = seededRandom(t)
  let mismatches = 0
  let checks = 0
  for (let round = 0; round < 200; round++) {
    const seqnoMax = 1 + random.int(20)
    const input = randomTombstones(random, random.int(12), seqnoMax)
    const fragmented = FragmentedTombstones.from(input)
    const errors = structuralErrors(fragmented.fragments())
    if (errors.length > 0) t.fail(`round ${round}: ${errors.join('; ')}`)
    t.equal(fragmented.isEmpty, input.length === 0)
    for (const key of PROBES) {
      for (let read = 0; read <= seqnoMax + 1; read++) {
        let want = 0
        for (const r of input) {
          const inside = Buffer.compare(r.start, key) <= 0 && Buffer.compare(key, r.end) < 0
          if (inside && r.seqno <= read && r.seqno > want) want = r.seqno
        }
        checks++
        if (fragmented.maxCoveringSeqno(key, read) !== want) mismatches++
        const entrySeqno = random.int(seqnoMax + 1)
        const deleted = input.some((r) => Buffer.compare(r.start, key) <= 0 && Buffer.compare(key, r.end) < 0 &&
          entrySeqno < r.seqno && r.seqno <= read)
        if (fragmented.covers(key, entrySeqno, read) !== deleted) mismatches++
      }
    }
  }
  t.equal(mismatches, 0, `${checks} key/read-seqno checks`)
  t.end()
})
