/**
 * Conformance: the iterator. Bounds (gt/gte/lt/lte/prefix, including prefix 0xff 0xff whose
 * successor does not exist), reverse, limit, seek, the ways to consume an iterator, and the
 * iterator's implicit snapshot — each checked with the data all in the memtable, spread over
 * tables and the memtable, and compacted.
 *
 * Expected results are written out by hand from the sorted key list below.
 */
import type { IteratorOptions, Tree } from '../../../src/engine/index.js'
import { ErrorCode } from '../../../src/engine/index.js'
import { bytes, expectCode, type TapTest, type TreeTest } from './conformance-support.js'

/** The keys, in bytewise order (latin1 strings so 0xff is one byte). */
const KEYS = ['\x00', 'a', 'b', 'ba', 'bb', 'c', 'd', '\xfe', '\xff', '\xff\x00', '\xff\xfe', '\xff\xff', '\xff\xff\x00', '\xff\xff\xff']
const valueOf = (k: string): Buffer => bytes(`${k}=v`)

interface Case {
  options: { gt?: string; gte?: string; lt?: string; lte?: string; prefix?: string }
  keys: string[]
}

const CASES: Case[] = [
  { options: {}, keys: KEYS },
  { options: { gt: 'b' }, keys: ['ba', 'bb', 'c', 'd', '\xfe', '\xff', '\xff\x00', '\xff\xfe', '\xff\xff', '\xff\xff\x00', '\xff\xff\xff'] },
  { options: { gte: 'b', lt: 'c' }, keys: ['b', 'ba', 'bb'] },
  { options: { gt: 'b', lte: 'c' }, keys: ['ba', 'bb', 'c'] },
  { options: { gte: 'bb', lte: 'bb' }, keys: ['bb'] },
  { options: { gt: 'bb', lt: 'bb' }, keys: [] },
  { options: { gte: 'c', lt: 'b' }, keys: [] },
  { options: { lt: 'b' }, keys: ['\x00', 'a'] },
  { options: { lte: 'b' }, keys: ['\x00', 'a', 'b'] },
  { options: { lt: '\x00' }, keys: [] },
  { options: { gt: '\xff\xff\xff' }, keys: [] },
  { options: { gte: 'b\x00', lt: 'bb' }, keys: ['ba'] },
  { options: { gte: '\xff\xff' }, keys: ['\xff\xff', '\xff\xff\x00', '\xff\xff\xff'] },
  { options: { prefix: 'b' }, keys: ['b', 'ba', 'bb'] },
  { options: { prefix: 'b', gt: 'b' }, keys: ['ba', 'bb'] },
  { options: { prefix: 'b', lt: 'bb' }, keys: ['b', 'ba'] },
  { options: { prefix: 'b', gte: 'a', lte: 'z' }, keys: ['b', 'ba', 'bb'] },
  { options: { prefix: 'z' }, keys: [] },
  { options: { prefix: '\xff' }, keys: ['\xff', '\xff\x00', '\xff\xfe', '\xff\xff', '\xff\xff\x00', '\xff\xff\xff'] },
  { options: { prefix: '\xff\xff' }, keys: ['\xff\xff', '\xff\xff\x00', '\xff\xff\xff'] },
  { options: { prefix: '\xff\xff', gt: '\xff\xff' }, keys: ['\xff\xff\x00', '\xff\xff\xff'] },
  { options: { prefix: '\xff\xff', lt: '\xff\xff\xff' }, keys: ['\xff\xff', '\xff\xff\x00'] },
  { options: { prefix: '\xff\xff\xff\xff' }, keys: [] },
  { options: { prefix: '\x00' }, keys: ['\x00'] },
]

function toIteratorOptions(o: Case['options']): IteratorOptions {
  const out: IteratorOptions = {}
  for (const [name, value] of Object.entries(o)) out[name as keyof Case['options']] = bytes(value)
  return out
}

const entries = (keys: readonly string[]): [Buffer, Buffer][] => keys.map((k) => [bytes(k), valueOf(k)])

/** Writes KEYS (plus noise that is overwritten or deleted) in the placement `stage`. */
async function load(tree: Tree, stage: 'memtable' | 'mixed' | 'compacted'): Promise<void> {
  const half = Math.floor(KEYS.length / 2)
  for (const k of ['bab', 'e', '\xff\xff\xff\xff', 'c']) await tree.put(bytes(k), 'noise')
  for (const [i, k] of KEYS.entries()) {
    await tree.put(bytes(k), valueOf(k))
    if (stage !== 'memtable' && i === half) await tree.flush()
  }
  for (const k of ['bab', 'e', '\xff\xff\xff\xff']) await tree.delete(bytes(k))
  if (stage === 'compacted') await tree.compact()
}

function checkCases(t: TapTest, tree: Tree, stage: string): void {
  for (const c of CASES) {
    const label = `${stage} ${JSON.stringify(c.options)}`
    const options = toIteratorOptions(c.options)
    t.same(tree.iterator(options).all(), entries(c.keys), label)
    t.same(tree.iterator({ ...options, reverse: true }).all(), entries([...c.keys].reverse()), `${label} reverse`)
    t.same(tree.iterator({ ...options, limit: 2 }).all(), entries(c.keys.slice(0, 2)), `${label} limit 2`)
    t.same(tree.iterator({ ...options, reverse: true, limit: 2 }).all(), entries([...c.keys].reverse().slice(0, 2)), `${label} reverse limit 2`)
  }
}

/** Every combination of a lower and an upper bound over a few candidates, against a filter. */
function checkBoundMatrix(t: TapTest, tree: Tree): void {
  const candidates = ['\x00', 'a', 'b', 'b\x00', 'bab', 'bb', 'e', '\xff', '\xff\xff', '\xff\xff\xff\xff']
  const lowers: [('gt' | 'gte')?, string?][] = [[], ...candidates.flatMap((c) => [['gt', c], ['gte', c]] as [('gt' | 'gte'), string][])]
  const uppers: [('lt' | 'lte')?, string?][] = [[], ...candidates.flatMap((c) => [['lt', c], ['lte', c]] as [('lt' | 'lte'), string][])]
  let mismatches = 0
  for (const [lowerName, lower] of lowers) {
    for (const [upperName, upper] of uppers) {
      const options: IteratorOptions = {}
      if (lowerName && lower !== undefined) options[lowerName] = bytes(lower)
      if (upperName && upper !== undefined) options[upperName] = bytes(upper)
      const want = KEYS.filter((k) => {
        const kb = bytes(k)
        if (lower !== undefined && Buffer.compare(kb, bytes(lower)) < (lowerName === 'gt' ? 1 : 0)) return false
        if (upper !== undefined && Buffer.compare(kb, bytes(upper)) > (upperName === 'lt' ? -1 : 0)) return false
        return true
      })
      for (const reverse of [false, true]) {
        const got = tree.iterator({ ...options, reverse }).all()
        const expected = entries(reverse ? [...want].reverse() : want)
        if (JSON.stringify(got) !== JSON.stringify(expected)) {
          mismatches++
          const label = `bounds ${lowerName}=${JSON.stringify(lower)} ${upperName}=${JSON.stringify(upper)} reverse=${reverse}`
          if (mismatches <= 5) t.same(got, expected, label)
        }
      }
    }
  }
  t.equal(mismatches, 0, `bound matrix: ${lowers.length * uppers.length * 2} iterators agree with the filter`)
}

export function iteratorTests(test: TreeTest): void {
  boundTests(test)
  seekAndConsumeTests(test)
}

/** Bounds, reverse and limit at three placements of the data. */
function boundTests(test: TreeTest): void {
  for (const stage of ['memtable', 'mixed', 'compacted'] as const) {
    test(`iterator bounds, reverse, limit (${stage})`, { memtableBytes: 4096, blockBytes: 256 }, async (t, tree) => {
      await load(tree, stage)
      checkCases(t, tree, stage)
      if (stage === 'mixed') checkBoundMatrix(t, tree)
    })
  }

  test('limit', {}, async (t, tree) => {
    await load(tree, 'mixed')
    t.same(tree.iterator({ limit: 0 }).all(), [], 'limit 0')
    t.same(tree.iterator({ limit: 0, reverse: true }).all(), [], 'limit 0 reverse')
    t.same(tree.iterator({ limit: 1 }).all(), entries(['\x00']), 'limit 1')
    t.same(tree.iterator({ limit: 3, reverse: true }).all(), entries(['\xff\xff\xff', '\xff\xff\x00', '\xff\xff']), 'limit 3 reverse')
    t.same(tree.iterator({ limit: 1000 }).all(), entries(KEYS), 'limit above the count')
    const it = tree.iterator({ limit: 2 })
    t.equal(it.next()?.[0].toString('latin1'), '\x00')
    t.equal(it.next()?.[0].toString('latin1'), 'a')
    t.equal(it.next(), undefined, 'the limit ends the iterator')
    it.close()
    await expectCode(t, () => tree.iterator({ limit: -1 }), ErrorCode.INVALID_ARGUMENT, 'negative limit')
    await expectCode(t, () => tree.iterator({ limit: 1.5 }), ErrorCode.INVALID_ARGUMENT, 'fractional limit')
  })
}

/** seek(), the ways to read an iterator, and its implicit snapshot. */
function seekAndConsumeTests(test: TreeTest): void {
  test('seek forward and reverse', { memtableBytes: 4096, blockBytes: 256 }, async (t, tree) => {
    await load(tree, 'mixed')
    const it = tree.iterator()
    it.seek(bytes('b'))
    t.same(it.nextv(2), entries(['b', 'ba']), 'seek to an existing key')
    it.seek(bytes('bab'))
    t.same(it.next(), entries(['bb'])[0], 'seek between keys lands on the next one')
    it.seek(bytes('\xff\xff\xff\xff'))
    t.equal(it.next(), undefined, 'seek past the end')
    it.seek(bytes('a'))
    t.same(it.next(), entries(['a'])[0], 'seek back after the end')
    it.seek('c')
    t.same(it.next(), entries(['c'])[0], 'seek takes a string')
    it.close()

    const rev = tree.iterator({ reverse: true })
    rev.seek(bytes('bab'))
    t.same(rev.nextv(3), entries(['ba', 'b', 'a']), 'reverse seek between keys lands on the previous one')
    rev.seek(bytes('bb'))
    t.same(rev.next(), entries(['bb'])[0], 'reverse seek to an existing key includes it')
    rev.seek(bytes('\x00'))
    t.same(rev.nextv(5), entries(['\x00']), 'reverse seek to the first key')
    rev.seek(bytes('\xff\xff\xff\xff'))
    t.same(rev.next(), entries(['\xff\xff\xff'])[0], 'reverse seek past the end lands on the last key')
    rev.close()

    const bounded = tree.iterator({ gte: bytes('b'), lt: bytes('c') })
    bounded.seek(bytes('a'))
    t.same(bounded.all(), entries(['b', 'ba', 'bb']), 'a seek below the lower bound starts at the bound')
    const boundedEnd = tree.iterator({ gte: bytes('b'), lt: bytes('c') })
    boundedEnd.seek(bytes('c'))
    t.same(boundedEnd.all(), [], 'a seek at the upper bound finds nothing')
    const boundedRev = tree.iterator({ gte: bytes('b'), lte: bytes('bb'), reverse: true })
    boundedRev.seek(bytes('z'))
    t.same(boundedRev.all(), entries(['bb', 'ba', 'b']), 'a reverse seek above the upper bound starts at the bound')
    const prefixed = tree.iterator({ prefix: bytes('\xff\xff'), reverse: true })
    prefixed.seek(bytes('\xff\xff\x00'))
    t.same(prefixed.all(), entries(['\xff\xff\x00', '\xff\xff']), 'reverse seek inside prefix 0xff 0xff')
  })

  test('ways to consume an iterator', {}, async (t, tree) => {
    await load(tree, 'memtable')
    const want = entries(KEYS)
    const viaForOf: [Buffer, Buffer][] = []
    for (const e of tree.iterator()) viaForOf.push(e)
    t.same(viaForOf, want, 'for..of')
    const viaForAwait: [Buffer, Buffer][] = []
    for await (const e of tree.iterator()) viaForAwait.push(e)
    t.same(viaForAwait, want, 'for await..of')
    const it = tree.iterator()
    const chunks: [Buffer, Buffer][] = []
    for (let c = it.nextv(4); c.length > 0; c = it.nextv(4)) chunks.push(...c)
    it.close()
    t.same(chunks, want, 'nextv')
    const early = tree.iterator()
    for (const e of early) {
      t.same(e, want[0])
      break
    }
    await expectCode(t, () => early.next(), ErrorCode.CLOSED, 'breaking out of for..of closes the iterator')
    const closed = tree.iterator()
    closed.close()
    closed.close()
    await expectCode(t, () => closed.next(), ErrorCode.CLOSED, 'next after close')
  })

  test('an iterator reads the state at its creation', { memtableBytes: 4096 }, async (t, tree) => {
    await load(tree, 'mixed')
    const it = tree.iterator({ gte: bytes('a'), lt: bytes('\xfe') })
    t.same(it.next(), entries(['a'])[0])
    await tree.put('aa', 'new')
    await tree.delete('b')
    await tree.put('c', 'changed')
    await tree.deleteRange('ba', 'bb\x00')
    await tree.flush()
    await tree.compact()
    t.same(it.all(), entries(['b', 'ba', 'bb', 'c', 'd']), 'writes, flush and compaction after creation are invisible')
    const now: [Buffer, Buffer][] = [[bytes('a'), valueOf('a')], [bytes('aa'), bytes('new')], [bytes('c'), bytes('changed')], [bytes('d'), valueOf('d')]]
    t.same(tree.iterator({ gte: bytes('a'), lt: bytes('\xfe') }).all(), now, 'a new iterator sees them')
  })
}
