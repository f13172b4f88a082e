/**
 * LevelIterator over random sorted runs: files with no point entries (tombstone-only), a user
 * key's versions split across two files, largestKey past the last entry (a tombstone end).
 * Checked against the concatenated model for seeks at every file boundary and for random ops,
 * while asserting laziness: nothing opens before a positioning call, at most one file is open,
 * and seekLT does not open the file that starts at its target.
 */
import t from 'tap'
import { LevelIterator, type LevelFile } from '../../../src/engine/iterator/level-iterator.js'
import { VectorIterator } from '../../../src/engine/iterator/vector-iterator.js'
import type { InternalIterator } from '../../../src/engine/iterator/internal-iterator.js'
import { ErrorCode, StrataError } from '../../../src/engine/errors.js'
import { AssertionError } from '../../../src/engine/base/assert.js'
import {
  agreesWithModel, applyOp, collectBackward, collectForward, current, describe, describeOp, entry, ModelCursor,
  Random, seededRandom, type CursorOp, type Entry,
} from '../../helpers/iterator-model.js'

function keyOf(n: number): Buffer {
  const key = Buffer.alloc(2)
  key.writeUInt16BE(n)
  return key
}

interface Level { files: LevelFile[]; contents: Entry[][]; all: Entry[] }

/**
 * A random run: entries on even keys (versions of one key sometimes spill into the next
 * file); empty files span odd keys in the gaps; a file's largestKey may reach past its last
 * entry, as a range tombstone end does.
 */
function randomLevel(random: Random): Level {
  const files: LevelFile[] = []
  const contents: Entry[][] = []
  const all: Entry[] = []
  let key = 2 * random.int(3)
  for (let f = random.int(8); f > 0; f--) {
    if (random.int(4) === 0) {
      key += 1 + 2 * random.int(2) // odd: no entry lives here
      const largest = key + 2 * random.int(2)
      files.push({ smallestKey: keyOf(key), largestKey: keyOf(largest) })
      contents.push([])
      key = largest + 1 + 2 * random.int(2) // even again, past the empty file
      continue
    }
    const entries: Entry[] = []
    for (let n = 1 + random.int(6); n > 0; n--) {
      for (let seqno = 1 + random.int(3); seqno > 0; seqno--) entries.push(entry(keyOf(key), seqno))
      key += 2
    }
    const spill = random.int(3) === 0 ? 2 : 0 // oldest versions of the last key go to the next file
    const last = entries[entries.length - 1] as Entry
    const largestKey = random.int(3) === 0 ? keyOf(key - 1) : last.key
    files.push({ smallestKey: (entries[0] as Entry).key, largestKey })
    contents.push(entries)
    all.push(...entries)
    if (spill > 0 && largestKey === last.key) {
      const spilled = [entry(last.key, 0)]
      files.push({ smallestKey: last.key, largestKey: last.key })
      contents.push(spilled)
      all.push(...spilled)
    }
  }
  return { files, contents, all }
}

/** Opens VectorIterators over `contents` and records laziness violations. */
class Opener {
  opens: number[] = []
  live = 0
  violations: string[] = []
  constructor(readonly contents: Entry[][]) {}
  open = (index: number): InternalIterator => {
    if (this.live !== 0) this.violations.push(`file ${index} opened while ${this.live} open`)
    this.opens.push(index)
    this.live++
    const inner = new VectorIterator(this.contents[index] as Entry[])
    const close = inner.close.bind(inner)
    inner.close = () => {
      this.live--
      close()
    }
    return inner
  }
}

t.test('seeks at every file boundary and random ops match the concatenation', (t) => {
  const random = seededRandom(t)
  for (let round = 0; round < 150; round++) {
    const level = randomLevel(random)
    const opener = new Opener(level.contents)
    const it = new LevelIterator(level.files, opener.open)
    t.equal(opener.opens.length, 0, 'nothing opens at construction')
    const model = new ModelCursor(level.all)
    const probes: Buffer[] = [keyOf(0)]
    for (const file of level.files) {
      for (const bound of [file.smallestKey, file.largestKey]) {
        const n = bound.readUInt16BE()
        probes.push(keyOf(n), keyOf(n + 1), ...(n > 0 ? [keyOf(n - 1)] : []))
      }
    }
    const ops: CursorOp[] = [{ op: 'first' }, { op: 'last' }]
    for (const key of probes) {
      ops.push({ op: 'seekLT', key }, { op: 'seekGE', key, seqno: undefined })
      for (const seqno of [0, 1, 2]) ops.push({ op: 'seekGE', key, seqno })
    }
    let mismatches = 0
    for (const op of ops) {
      applyOp(it, op)
      applyOp(model, op)
      if (describe(current(it)) !== describe(model.entry)) {
        mismatches++
        t.fail(`round ${round} ${describeOp(op)}: got ${describe(current(it))}, want ${describe(model.entry)}`)
      }
    }
    t.equal(mismatches, 0, `round ${round}: ${ops.length} boundary seeks over ${level.files.length} files`)
    const want = level.all.map(describe).join(' ')
    t.equal(collectForward(it).map(describe).join(' '), want, 'forward')
    t.equal(collectBackward(it).map(describe).reverse().join(' '), want, 'backward')
    agreesWithModel(t, it, level.all, random, { steps: 300, keys: probes, seqnoMax: 3 })
    it.close()
    t.equal(opener.live, 0, 'close closes the open file')
    t.same(opener.violations, [], 'never two files open')
  }
  t.end()
})

t.test('files open lazily, and seekLT skips the file that starts at its target', (t) => {
  const contents = [[entry('b', 1)], [entry('d', 1), entry('e', 1)], [entry('g', 1)]]
  const files = contents.map((c) => ({ smallestKey: (c[0] as Entry).key, largestKey: (c[c.length - 1] as Entry).key }))
  const opener = new Opener(contents)
  const it = new LevelIterator(files, opener.open)
  it.seekGE(Buffer.from('e'))
  t.same(opener.opens, [1], 'seekGE opens only the file that can hold the key')
  it.seekLT(Buffer.from('d'))
  t.equal(describe(current(it)), describe(entry('b', 1)))
  t.same(opener.opens, [1, 0], 'file 1 starts at the target and is not opened')
  it.seekGE(Buffer.from('c'))
  t.equal(describe(current(it)), describe(entry('d', 1)), 'a key in a gap lands on the next file')
  it.next()
  it.next()
  t.equal(describe(current(it)), describe(entry('g', 1)))
  it.next()
  t.notOk(it.valid)
  t.equal(opener.live, 0, 'running off the end closes the last file')
  it.seekGE(Buffer.from('h'))
  t.notOk(it.valid, 'past every file')
  it.seekLT(Buffer.from('b'))
  t.notOk(it.valid, 'before every file')
  t.same(opener.opens, [1, 0, 1, 2], 'seeks outside every file open nothing')
  it.close()
  it.close()
  t.throws(() => it.first(), AssertionError, 'no use after close')
  t.end()
})

t.test('a level with no files, or only empty files, is empty', (t) => {
  for (const files of [[], [{ smallestKey: Buffer.from('a'), largestKey: Buffer.from('c') }]]) {
    const opener = new Opener(files.map(() => []))
    const it = new LevelIterator(files, opener.open)
    for (const move of [() => it.first(), () => it.last(), () => it.seekGE(Buffer.from('b')), () => it.seekLT(Buffer.from('z'))]) {
      move()
      t.notOk(it.valid)
    }
    t.equal(opener.live, 0)
    it.close()
  }
  t.end()
})

t.test('a failing file leaves the level invalid and closed until the next seek', (t) => {
  const contents = [[entry('a', 1)], [entry('b', 1)]]
  const files = contents.map((c) => ({ smallestKey: (c[0] as Entry).key, largestKey: (c[0] as Entry).key }))
  let fail = true
  const opener = new Opener(contents)
  const it = new LevelIterator(files, (index) => {
    if (index === 1 && fail) throw new StrataError(ErrorCode.CORRUPTION, 'bad table')
    return opener.open(index)
  })
  it.first()
  t.throws(() => it.next(), { code: ErrorCode.CORRUPTION })
  t.notOk(it.valid)
  t.equal(opener.live, 0, 'the previous file was closed')
  fail = false
  it.seekGE(Buffer.from('b'))
  t.equal(describe(current(it)), describe(entry('b', 1)))
  it.close()
  t.end()
})

t.test('when a failing file also fails to close, the first failure is reported', (t) => {
  const files = [{ smallestKey: Buffer.from('a'), largestKey: Buffer.from('b') }]
  const broken = new VectorIterator([entry('a', 1), entry('b', 1)])
  broken.next = () => {
    throw new StrataError(ErrorCode.CORRUPTION, 'bad block')
  }
  broken.close = () => {
    throw new StrataError(ErrorCode.IO, 'close failed')
  }
  const it = new LevelIterator(files, () => broken)
  it.first()
  t.throws(() => it.next(), { code: ErrorCode.CORRUPTION })
  t.notOk(it.valid)
  it.close()
  t.end()
})
