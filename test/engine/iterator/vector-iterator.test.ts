/**
 * VectorIterator and emptyIterator: the in-memory iterators other tests build on. Checked
 * against the model for random ops, and for their edge cases (unsorted input refused, use
 * after close, steps off either end).
 */
import t from 'tap'
import { VectorIterator } from '../../../src/engine/iterator/vector-iterator.js'
import { emptyIterator, VectorIterator as ReExported } from '../../../src/engine/iterator/empty-iterator.js'
import { KeyKind } from '../../../src/engine/base/internal-key.js'
import { AssertionError } from '../../../src/engine/base/assert.js'
import {
  agreesWithModel, collectBackward, collectForward, compareEntries, describe, entry, KEY_ALPHABET, seededRandom,
  type Entry,
} from '../../helpers/iterator-model.js'

t.test('random ops agree with the model', (t) => {
  const random = seededRandom(t)
  for (let round = 0; round < 30; round++) {
    const byId = new Map<string, Entry>()
    for (let n = random.int(60); n > 0; n--) {
      const e = entry(random.pick(KEY_ALPHABET), 1 + random.int(10), random.pick([KeyKind.Put, KeyKind.Delete]))
      byId.set(`${e.key.toString('hex')}#${e.seqno}`, e)
    }
    const entries = [...byId.values()].sort(compareEntries)
    const it = new VectorIterator(entries)
    t.equal(collectForward(it).map(describe).join(' '), entries.map(describe).join(' '))
    t.equal(collectBackward(it).length, entries.length)
    agreesWithModel(t, it, entries, random, { steps: 500, keys: KEY_ALPHABET, seqnoMax: 10 })
  }
  t.end()
})

t.test('unsorted or duplicate input is a programmer error', (t) => {
  t.throws(() => new VectorIterator([entry('b', 1), entry('a', 1)]), AssertionError, 'keys descending')
  t.throws(() => new VectorIterator([entry('a', 1), entry('a', 2)]), AssertionError, 'seqnos ascending')
  t.throws(() => new VectorIterator([entry('a', 1), entry('a', 1)]), AssertionError, 'duplicate')
  t.doesNotThrow(() => new VectorIterator([entry('a', 2), entry('a', 1), entry('a\x00', 9)]))
  t.end()
})

t.test('steps off either end, and use after close', (t) => {
  const it = new VectorIterator([entry('a', 1)])
  it.first()
  it.prev()
  t.notOk(it.valid)
  t.throws(() => it.prev(), AssertionError, 'prev requires valid')
  t.throws(() => it.seqno, AssertionError)
  it.close()
  t.throws(() => it.seekGE(Buffer.from('a')), AssertionError)
  t.equal(ReExported, VectorIterator, 'also exported next to emptyIterator')
  t.end()
})

t.test('the empty iterator is never valid', (t) => {
  const it = emptyIterator()
  for (const move of [() => it.first(), () => it.last(), () => it.seekGE(Buffer.from('a'), 3), () => it.seekLT(Buffer.from('a'))]) {
    move()
    t.notOk(it.valid)
  }
  t.throws(() => it.key, AssertionError)
  t.throws(() => it.seqno, AssertionError)
  t.throws(() => it.kind, AssertionError)
  t.throws(() => it.value, AssertionError)
  t.throws(() => it.next(), AssertionError)
  t.throws(() => it.prev(), AssertionError)
  it.close()
  it.close()
  t.throws(() => it.first(), AssertionError, 'no use after close')
  t.end()
})
