/**
 * MergingIterator over random VectorIterators against the sorted union (no duplicate
 * suppression, ties across children broken by child index), with random seeks and direction
 * switches; plus the edge cases: no children, empty children, exact ties, child failures, and
 * close() closing every child once.
 */
import t from 'tap'
import { MergingIterator } from '../../../src/engine/iterator/merging-iterator.js'
import { VectorIterator } from '../../../src/engine/iterator/vector-iterator.js'
import { emptyIterator } from '../../../src/engine/iterator/empty-iterator.js'
import type { InternalIterator } from '../../../src/engine/iterator/internal-iterator.js'
import { Memtable } from '../../../src/engine/memtable/memtable.js'
import { KeyKind } from '../../../src/engine/base/internal-key.js'
import { AssertionError } from '../../../src/engine/base/assert.js'
import { StrataError, ErrorCode } from '../../../src/engine/errors.js'
import {
  agreesWithModel, collectBackward, collectForward, compareEntries, current, describe, entry, KEY_ALPHABET,
  seededRandom, type Entry,
} from '../../helpers/iterator-model.js'

interface Tagged extends Entry { child: number }

/** Merged order: internal order, then kind descending, then child index ascending. */
function compareMerged(a: Tagged, b: Tagged): number {
  return compareEntries(a, b) || b.kind - a.kind || a.child - b.child
}

t.test('random children match the sorted union under random ops and direction switches', (t) => {
  const random = seededRandom(t)
  for (let round = 0; round < 60; round++) {
    const childCount = random.int(7)
    const seqnoMax = 1 + random.int(12)
    const children: Tagged[][] = []
    for (let c = 0; c < childCount; c++) {
      const seen = new Set<string>()
      const list: Tagged[] = []
      for (let n = random.int(40); n > 0; n--) {
        const key = random.pick(KEY_ALPHABET)
        const seqno = 1 + random.int(seqnoMax)
        const id = `${key.toString('hex')}#${seqno}`
        if (seen.has(id)) continue // unique within a child; collisions across children are allowed
        seen.add(id)
        const kind = random.pick([KeyKind.Put, KeyKind.Delete, KeyKind.Merge])
        list.push({ ...entry(key, seqno, kind, `c${c}`), child: c })
      }
      children.push(list.sort(compareEntries))
    }
    const union = children.flat().sort(compareMerged)
    const merged = new MergingIterator(children.map((list) => new VectorIterator(list)))
    const want = union.map(describe).join(' ')
    t.equal(collectForward(merged).map(describe).join(' '), want, `round ${round}: forward`)
    t.equal(collectBackward(merged).map(describe).reverse().join(' '), want, `round ${round}: backward`)
    if (!agreesWithModel(t, merged, union, random, { steps: 400, keys: KEY_ALPHABET, seqnoMax })) break
    merged.close()
  }
  t.end()
})

t.test('exact ties come out by child index, and prev is the exact reverse', (t) => {
  const a = new VectorIterator([entry('k', 5, KeyKind.Put, 'a'), entry('m', 1, KeyKind.Put, 'a')])
  const b = new VectorIterator([entry('k', 5, KeyKind.Put, 'b'), entry('k', 4, KeyKind.Put, 'b')])
  const c = new VectorIterator([entry('k', 5, KeyKind.Merge, 'c')])
  const merged = new MergingIterator([a, b, c])
  const forward = ['c', 'a', 'b', 'b', 'a'] // Merge (2) sorts before Put (1) at equal key/seqno
  t.same(collectForward(merged).map((e) => e.value.toString()), forward)
  t.same(collectBackward(merged).map((e) => e.value.toString()), [...forward].reverse())
  // Switch direction in the middle of the tie, both ways.
  merged.first()
  merged.next() // on k#5 from a
  merged.prev()
  t.equal(merged.value.toString(), 'c', 'prev from the middle of a tie')
  merged.next()
  merged.next()
  t.equal(merged.value.toString(), 'b', 'next after switching back')
  merged.prev()
  t.equal(merged.value.toString(), 'a')
  merged.close()
  t.end()
})

t.test('no children, or only empty ones, is an empty merge', (t) => {
  for (const children of [[], [emptyIterator()], [new VectorIterator([]), emptyIterator()]]) {
    const merged = new MergingIterator(children)
    merged.first()
    t.notOk(merged.valid)
    merged.seekGE(Buffer.from('a'))
    t.notOk(merged.valid)
    merged.last()
    t.notOk(merged.valid)
    merged.seekLT(Buffer.from('z'))
    t.notOk(merged.valid)
    t.throws(() => merged.key, AssertionError)
    merged.close()
  }
  t.end()
})

t.test('memtable cursors merge like vectors', (t) => {
  const random = seededRandom(t)
  const memtables = [new Memtable(), new Memtable(), new Memtable()]
  const all: Entry[] = []
  for (let seqno = 1; seqno <= 600; seqno++) {
    const e = entry(random.pick(KEY_ALPHABET), seqno)
    random.pick(memtables).add(e.key, e.seqno, e.kind, e.value)
    all.push(e)
  }
  const merged = new MergingIterator(memtables.map((m) => m.newIterator()))
  const union = all.sort(compareEntries)
  t.equal(collectForward(merged).map(describe).join(' '), union.map(describe).join(' '))
  agreesWithModel(t, merged, union, random, { steps: 3000, keys: KEY_ALPHABET, seqnoMax: 600 })
  t.end()
})

/** A child that counts closes and can be told to fail on its next step. */
class Probe implements InternalIterator {
  closes = 0
  failNext = false
  readonly #inner: VectorIterator
  constructor(entries: Entry[], readonly failClose = false) {
    this.#inner = new VectorIterator(entries)
  }
  get valid(): boolean { return this.#inner.valid }
  get key(): Buffer { return this.#inner.key }
  get seqno(): number { return this.#inner.seqno }
  get kind(): KeyKind { return this.#inner.kind }
  get value(): Buffer { return this.#inner.value }
  seekGE(key: Uint8Array, seqno?: number): void { this.#inner.seekGE(key, seqno) }
  seekLT(key: Uint8Array): void { this.#inner.seekLT(key) }
  first(): void { this.#inner.first() }
  last(): void { this.#inner.last() }
  next(): void {
    if (this.failNext) throw new StrataError(ErrorCode.CORRUPTION, 'injected')
    this.#inner.next()
  }
  prev(): void { this.#inner.prev() }
  close(): void {
    this.closes++
    if (this.failClose) throw new StrataError(ErrorCode.IO, 'close failed')
  }
}

t.test('a failing child leaves the merge invalid until the next seek', (t) => {
  const bad = new Probe([entry('a', 2), entry('c', 2)])
  const good = new Probe([entry('b', 1)])
  const merged = new MergingIterator([bad, good])
  merged.first()
  bad.failNext = true
  t.throws(() => merged.next(), { code: ErrorCode.CORRUPTION })
  t.notOk(merged.valid, 'invalid after the failure')
  bad.failNext = false
  merged.seekGE(Buffer.from('b'))
  t.equal(describe(current(merged)), describe(entry('b', 1)), 'a seek recovers')
  t.end()
})

t.test('close closes every child once, even when one close throws', (t) => {
  const children = [new Probe([entry('a', 1)]), new Probe([], true), new Probe([entry('b', 1)])]
  const merged = new MergingIterator(children)
  merged.first()
  t.throws(() => merged.close(), { code: ErrorCode.IO }, 'the close failure is reported')
  t.same(children.map((c) => c.closes), [1, 1, 1])
  merged.close()
  t.same(children.map((c) => c.closes), [1, 1, 1], 'idempotent')
  t.throws(() => merged.first(), AssertionError, 'no use after close')
  t.end()
})
