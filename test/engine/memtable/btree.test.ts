/**
 * BTree (the memtable's structure): ordering under every insert pattern that shapes a B+tree
 * differently (random, ascending, descending, many versions of one key), enough entries for
 * three levels of inner nodes, duplicates refused, and cursors that stay on their entry while
 * inserts split the leaves under them.
 */
import t from 'tap'
import { BTree, compareUserKeys, LEAF_ENTRIES_MAX, INNER_CHILDREN_MAX } from '../../../src/engine/memtable/btree.js'
import { KeyKind } from '../../../src/engine/base/internal-key.js'
import { AssertionError } from '../../../src/engine/base/assert.js'
import {
  agreesWithModel, collectBackward, collectForward, compareEntries, current, describe, entry, seededRandom,
  type Entry,
} from '../../helpers/iterator-model.js'

function keyOf(n: number): Buffer {
  const key = Buffer.alloc(4)
  key.writeUInt32BE(n)
  return key
}

function build(entries: readonly Entry[]): BTree {
  const tree = new BTree()
  for (const e of entries) tree.insert(e.key, e.seqno, e.kind, e.value)
  return tree
}

/** Even keys in order; after each, sometimes an odd key already passed, or the same key again
 *  at a lower seqno (both follow or precede the last entry depending on the seqno). */
function ascendingWithInsertsBehind(count: number, random: { int(n: number): number }): Entry[] {
  const out: Entry[] = []
  for (let i = 0; i < count; i++) {
    out.push(entry(keyOf(2 * i), 10))
    const r = random.int(8)
    if (r === 0) out.push(entry(keyOf(2 * random.int(i + 1) + 1), 10))
    else if (r === 1) out.push(entry(keyOf(2 * i), 9))
    else if (r === 2 && i > 0) out.push(entry(keyOf(2 * (i - 1)), 11))
  }
  const seen = new Set<string>()
  return out.filter((e) => {
    const id = `${e.key.toString('hex')}#${e.seqno}`
    if (seen.has(id)) return false
    seen.add(id)
    return true
  })
}

function sorted(entries: readonly Entry[]): Entry[] {
  return [...entries].sort(compareEntries)
}

t.test('compareUserKeys has the sign of Buffer.compare', (t) => {
  const random = seededRandom(t)
  const sign = (n: number): number => Math.sign(n)
  const cases: [Buffer, Buffer][] = [
    [Buffer.alloc(0), Buffer.alloc(0)], [Buffer.alloc(0), Buffer.from([0])], [Buffer.from('a'), Buffer.from('a\x00')],
    [Buffer.from([0xff]), Buffer.from([0x00, 0xff])], [Buffer.alloc(64, 1), Buffer.alloc(65, 1)],
    [Buffer.concat([Buffer.alloc(100, 7), Buffer.from([1])]), Buffer.concat([Buffer.alloc(100, 7), Buffer.from([2])])],
  ]
  for (let i = 0; i < 2000; i++) {
    // Long shared prefixes cross the 64-byte inline limit.
    const prefix = Buffer.alloc(random.int(130), random.int(256))
    const a = Buffer.concat([prefix, Buffer.from([random.int(3), random.int(3)]).subarray(0, random.int(3))])
    const b = Buffer.concat([prefix, Buffer.from([random.int(3), random.int(3)]).subarray(0, random.int(3))])
    cases.push([a, b])
  }
  let mismatches = 0
  for (const [a, b] of cases) {
    if (sign(compareUserKeys(a, b)) !== Buffer.compare(a, b)) mismatches++
    if (sign(compareUserKeys(b, a)) !== Buffer.compare(b, a)) mismatches++
  }
  t.equal(mismatches, 0)
  t.end()
})

t.test('an empty tree has no entries in either direction', (t) => {
  const cursor = new BTree().cursor()
  t.same(collectForward(cursor), [])
  t.same(collectBackward(cursor), [])
  cursor.seekGE(Buffer.from('a'))
  t.notOk(cursor.valid)
  cursor.seekLT(Buffer.from('a'))
  t.notOk(cursor.valid)
  t.end()
})

t.test('insert orders shape the tree differently but always iterate in internal order', (t) => {
  const count = LEAF_ENTRIES_MAX * INNER_CHILDREN_MAX * 3 // splits inner nodes and the root
  const random = seededRandom(t)
  const ascending = Array.from({ length: count }, (_, i) => entry(keyOf(i), 1))
  const patterns: Record<string, Entry[]> = {
    ascending,
    descending: [...ascending].reverse(),
    random: random.shuffle([...ascending]),
    'one key, rising seqnos': Array.from({ length: 3000 }, (_, i) => entry('k', i + 1)),
    'one key, falling seqnos': Array.from({ length: 3000 }, (_, i) => entry('k', 3000 - i)),
    // Appends at the end (the in-order fast path) mixed with inserts behind the last entry.
    'ascending with inserts behind': ascendingWithInsertsBehind(count, random),
  }
  for (const [name, entries] of Object.entries(patterns)) {
    const tree = build(entries)
    const want = sorted(entries).map(describe)
    t.equal(tree.count, entries.length, `${name}: count`)
    t.ok(tree.checkInvariants() >= (name.startsWith('one key') ? 1 : 2), `${name}: invariants, depth`)
    // Joined strings: tap's deep diff of 12k-element arrays alone takes seconds.
    t.equal(collectForward(tree.cursor()).map(describe).join(' '), want.join(' '), `${name}: forward`)
    t.equal(collectBackward(tree.cursor()).map(describe).join(' '), want.reverse().join(' '), `${name}: backward`)
  }
  t.end()
})

t.test('random cursor operations agree with a brute-force model', (t) => {
  const random = seededRandom(t)
  const keys = Array.from({ length: 300 }, (_, i) => keyOf(i * 3))
  const probes = Array.from({ length: 905 }, (_, i) => keyOf(i))
  const entries: Entry[] = []
  const used = new Set<string>()
  while (entries.length < 5000) {
    const e = entry(random.pick(keys), 1 + random.int(40), random.pick([KeyKind.Put, KeyKind.Delete, KeyKind.Merge]))
    const id = `${e.key.toString('hex')}#${e.seqno}`
    if (used.has(id)) continue
    used.add(id)
    entries.push(e)
  }
  const tree = build(entries)
  tree.checkInvariants()
  agreesWithModel(t, tree.cursor(), sorted(entries), random, { steps: 20_000, keys: probes, seqnoMax: 40 })
  t.end()
})

t.test('a duplicate (key, seqno) is a programmer error', (t) => {
  const tree = new BTree()
  tree.insert(Buffer.from('k'), 5, KeyKind.Put, Buffer.from('v'))
  tree.insert(Buffer.from('k'), 4, KeyKind.Put, Buffer.from('v'))
  t.throws(() => tree.insert(Buffer.from('k'), 5, KeyKind.Delete, Buffer.alloc(0)), AssertionError)
  // The last entry again (the in-order fast path must not take it as an append).
  t.throws(() => tree.insert(Buffer.from('k'), 4, KeyKind.Delete, Buffer.alloc(0)), AssertionError)
  t.equal(tree.count, 2)
  t.end()
})

t.test('a cursor keeps its entry while inserts split the leaves under it', (t) => {
  const random = seededRandom(t)
  const tree = new BTree()
  const present: Entry[] = []
  for (let i = 0; i < 200; i++) {
    const e = entry(keyOf(i * 1000), 1)
    tree.insert(e.key, e.seqno, e.kind, e.value)
    present.push(e)
  }
  const cursor = tree.cursor()
  cursor.seekGE(keyOf(100_000))
  const held = describe(current(cursor))
  let added = 0
  for (let i = 0; i < 5000; i++) {
    const e = entry(keyOf(random.int(200_000)), 2 + i)
    tree.insert(e.key, e.seqno, e.kind, e.value)
    added++
    present.push(e)
    if (describe(current(cursor)) !== held) break
  }
  t.equal(describe(current(cursor)), held, `the cursor still reads its entry after ${added} inserts`)
  t.ok(tree.checkInvariants() >= 1, 'the inserts split leaves')
  // Walking on from it yields exactly the entries after it in the tree as it is now.
  const all = sorted(present).map(describe)
  const after: string[] = []
  for (cursor.next(); cursor.valid; cursor.next()) after.push(describe(current(cursor)))
  t.same(after, all.slice(all.indexOf(held) + 1))
  t.end()
})
