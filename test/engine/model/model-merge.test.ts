/**
 * Merge operands across the LSM: exact results of the three built-in operators wherever the
 * operands live (memtable, level 0, last level, after reopen), snapshots pinning operands in
 * different stripes with range deletes between them, the operator errors (INVALID_OPERAND,
 * NO_MERGE_OPERATOR, MERGE_OPERATOR_MISMATCH), and a randomized merge-heavy model run on a few
 * hot keys. Seeded: replay with STRATA_SEED=<seed>.
 */
import t from 'tap'

import { ErrorCode, MemVfs, Tree, isStrataError } from '../../../src/engine/index.js'
import type { TreeOptions } from '../../../src/engine/index.js'
import { DEFAULT_MIX, runModel } from '../../helpers/model-random.js'
import { Prng, testScale, testSeed } from '../../helpers/prng.js'
import { counterBytes, type ModelOperatorName } from '../../helpers/tree-model.js'

const seed = testSeed()
const scale = testScale()
t.comment(`model-merge seed=${seed} scale=${scale} (replay: STRATA_SEED=${seed})`)

/** A tap test object (the one t.test hands to its callback). */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0]

const SMALL: TreeOptions = { blockBytes: 256, tableBytes: 4096, memtableBytes: 4096 }
const I64_MAX = 2n ** 63n - 1n
const I64_MIN = -(2n ** 63n)

type Step = ['put', string | Buffer] | ['merge', string | Buffer] | ['delete'] | ['deleteRange', string, string]

interface Scenario {
  name: string
  operator: ModelOperatorName
  steps: Step[]
  expected: Buffer | undefined
}

const c = counterBytes
const b = (s: string): Buffer => Buffer.from(s, 'latin1')

const SCENARIOS: Scenario[] = [
  { name: 'counter: operands only', operator: 'counter', steps: [['merge', c(5)], ['merge', c(-7)], ['merge', c(40)]], expected: c(38) },
  { name: 'counter: onto a put', operator: 'counter', steps: [['put', c(10)], ['merge', c(-3)]], expected: c(7) },
  { name: 'counter: a base that is not 8 bytes counts as 0', operator: 'counter', steps: [['put', 'abc'], ['merge', c(5)]], expected: c(5) },
  { name: 'counter: an empty base counts as 0', operator: 'counter', steps: [['put', ''], ['merge', c(-2)]], expected: c(-2) },
  { name: 'counter: wraps at 64 bits', operator: 'counter', steps: [['put', c(I64_MAX)], ['merge', c(1)]], expected: c(I64_MIN) },
  { name: 'counter: delete resets', operator: 'counter', steps: [['merge', c(3)], ['delete'], ['merge', c(4)], ['merge', c(1)]], expected: c(5) },
  {
    name: 'counter: deleteRange between operands',
    operator: 'counter',
    steps: [['merge', c(100)], ['deleteRange', 'a', 'l'], ['merge', c(2)], ['deleteRange', 'l', 'z'], ['merge', c(3)]],
    expected: c(5),
  },
  { name: 'counter: put after operands wins', operator: 'counter', steps: [['merge', c(3)], ['merge', c(3)], ['put', c(1)]], expected: c(1) },
  { name: 'append: onto a put, older first', operator: 'append', steps: [['put', 'a'], ['merge', 'b'], ['merge', 'c']], expected: b('abc') },
  { name: 'append: operands only', operator: 'append', steps: [['merge', 'x'], ['merge', ''], ['merge', 'yz']], expected: b('xyz') },
  { name: 'append: after delete', operator: 'append', steps: [['merge', 'old'], ['delete'], ['merge', 'new']], expected: b('new') },
  { name: 'append: onto an empty value', operator: 'append', steps: [['put', ''], ['merge', 'q']], expected: b('q') },
  { name: 'append: after deleteRange', operator: 'append', steps: [['put', 'p'], ['deleteRange', 'k', 'k\x00'], ['merge', 'm']], expected: b('m') },
  { name: 'max: bytewise', operator: 'max', steps: [['merge', 'b'], ['merge', 'a'], ['merge', 'ba']], expected: b('ba') },
  { name: 'max: a longer string with the same prefix is larger', operator: 'max', steps: [['put', 'ab'], ['merge', 'a']], expected: b('ab') },
  { name: 'max: 0xff beats letters', operator: 'max', steps: [['put', 'zzzz'], ['merge', b('\xff')], ['merge', 'zzzzz']], expected: b('\xff') },
  { name: 'max: empty operand never wins over a value', operator: 'max', steps: [['merge', 'a'], ['merge', '']], expected: b('a') },
  { name: 'max: only an empty operand', operator: 'max', steps: [['merge', '']], expected: b('') },
]

/** Where the operands live: all in the memtable, one table each, or flushed then compacted. */
const PLACEMENTS = ['memtable', 'table per op', 'compacted', 'half flushed'] as const

async function applyStep(tree: Tree, step: Step): Promise<void> {
  const key = 'k'
  switch (step[0]) {
    case 'put':
      await tree.put(key, step[1])
      return
    case 'merge':
      await tree.merge(key, step[1])
      return
    case 'delete':
      await tree.delete(key)
      return
    case 'deleteRange':
      await tree.deleteRange(step[1], step[2])
  }
}

t.test('built-in operators give exact results wherever the operands live', async (t) => {
  for (const scenario of SCENARIOS) {
    for (const placement of PLACEMENTS) {
      const vfs = new MemVfs()
      const options: TreeOptions = { ...SMALL, vfs, mergeOperator: scenario.operator }
      let tree = await Tree.open('/db', options)
      for (const [i, step] of scenario.steps.entries()) {
        await applyStep(tree, step)
        if (placement === 'table per op') await tree.flush()
        if (placement === 'half flushed' && i === Math.floor(scenario.steps.length / 2)) await tree.compact()
      }
      if (placement === 'compacted') await tree.compact()
      const label = `${scenario.name} [${placement}]`
      t.same(tree.get('k'), scenario.expected, label)
      t.same(tree.iterator().all(), scenario.expected === undefined ? [] : [[b('k'), scenario.expected]], `${label}: scan`)
      await tree.close()
      tree = await Tree.open('/db', options)
      t.same(tree.get('k'), scenario.expected, `${label}: after reopen`)
      await tree.compact()
      t.same(tree.get('k'), scenario.expected, `${label}: after reopen + compact`)
      await tree.close()
    }
  }
})

t.test('batch merges fold onto earlier ops of the same batch', async (t) => {
  const tree = await Tree.open('/db', { vfs: new MemVfs(), mergeOperator: 'append' })
  await tree.put('a', 'base-')
  const s = await tree.batch().merge('a', '1').merge('a', '2').put('b', 'x').merge('b', 'y').delete('c').merge('c', 'z').write()
  t.same(tree.get('a'), b('base-12'))
  t.same(tree.get('b'), b('xy'))
  t.same(tree.get('c'), b('z'))
  t.same(tree.get('a', { seqno: s - 1 }), b('base-'), 'one seqno for the batch: before it, nothing of it')
  await tree.flush()
  t.same(tree.get('a', { seqno: s - 1 }), b('base-'), 'after flush too')
  await tree.close()
})

t.test('snapshots pin operands in separate stripes across memtable, L0 and the last level', async (t) => {
  const vfs = new MemVfs()
  const options: TreeOptions = { ...SMALL, vfs, mergeOperator: 'counter' }
  let tree = await Tree.open('/db', options)
  await tree.merge('k', c(1))
  const a = tree.snapshot() // k = 1
  await tree.merge('k', c(2))
  await tree.flush() // operands 1, 2 in L0
  const bSnap = tree.snapshot() // k = 3
  await tree.merge('k', c(4))
  await tree.compact() // everything in the last level, with stripes A | B | newest
  await tree.deleteRange('j', 'l')
  const dSnap = tree.snapshot() // k absent
  await tree.merge('k', c(8))
  const cSnap = tree.snapshot() // k = 8
  await tree.flush()
  await tree.merge('k', c(16)) // memtable
  const expectAll = (label: string): void => {
    t.same(tree.get('k', { seqno: a.seqno }), c(1), `${label}: snapshot A`)
    t.same(tree.get('k', { seqno: bSnap.seqno }), c(3), `${label}: snapshot B`)
    t.equal(tree.get('k', { seqno: dSnap.seqno }), undefined, `${label}: snapshot D (range-deleted)`)
    t.same(tree.get('k', { seqno: cSnap.seqno }), c(8), `${label}: snapshot C`)
    t.same(tree.get('k'), c(24), `${label}: latest`)
    t.same(tree.iterator({ seqno: bSnap.seqno }).all(), [[b('k'), c(3)]], `${label}: scan at B`)
  }
  expectAll('before compaction')
  await tree.compact()
  expectAll('after compaction')
  bSnap.release()
  await tree.compact()
  t.same(tree.get('k', { seqno: a.seqno }), c(1), 'A survives releasing B')
  t.same(tree.get('k', { seqno: cSnap.seqno }), c(8), 'C survives releasing B')
  t.same(tree.get('k'), c(24))
  for (const s of [a, dSnap, cSnap]) s.release()
  await tree.compact()
  t.same(tree.get('k'), c(24), 'latest after every snapshot is released and compacted')
  await tree.close()
  tree = await Tree.open('/db', options)
  t.same(tree.get('k'), c(24), 'after reopen')
  await tree.close()
})

async function rejectsWith(t: TapTest, fn: () => unknown, code: string, label: string): Promise<void> {
  try {
    await fn()
  } catch (error) {
    t.ok(isStrataError(error) && error.code === code, `${label}: ${code} (got ${String(error)})`)
    return
  }
  t.fail(`${label}: expected ${code}, resolved`)
}

t.test('operator errors', async (t) => {
  const vfs = new MemVfs()
  const counter = await Tree.open('/c', { vfs, mergeOperator: 'counter' })
  for (const size of [0, 1, 7, 9, 16]) {
    await rejectsWith(t, () => counter.merge('k', Buffer.alloc(size)), ErrorCode.INVALID_OPERAND, `counter merge of ${size} bytes`)
    const batchMerge = async (): Promise<number> => counter.batch().put('x', 'y').merge('k', Buffer.alloc(size)).write()
    await rejectsWith(t, batchMerge, ErrorCode.INVALID_OPERAND, `batch counter merge of ${size} bytes`)
  }
  t.equal(counter.get('x'), undefined, 'a batch with an invalid operand wrote nothing')
  t.equal(counter.get('k'), undefined)
  await counter.close()

  const plain = await Tree.open('/p', { vfs })
  await rejectsWith(t, () => plain.merge('k', c(1)), ErrorCode.NO_MERGE_OPERATOR, 'merge without operator')
  await rejectsWith(t, async () => plain.batch().merge('k', c(1)).write(), ErrorCode.NO_MERGE_OPERATOR, 'batch merge without operator')
  t.equal(plain.get('k'), undefined)
  await plain.close()
})

t.test('reopening with another merge operator is refused; the same one is fine', async (t) => {
  const vfs = new MemVfs()
  let tree = await Tree.open('/db', { vfs, mergeOperator: 'counter' })
  await tree.merge('k', c(41))
  await tree.merge('k', c(1))
  await tree.close()
  await rejectsWith(t, () => Tree.open('/db', { vfs, mergeOperator: 'append' }), ErrorCode.MERGE_OPERATOR_MISMATCH, 'counter -> append')
  await rejectsWith(t, () => Tree.open('/db', { vfs, mergeOperator: 'max' }), ErrorCode.MERGE_OPERATOR_MISMATCH, 'counter -> max')
  await rejectsWith(t, () => Tree.open('/db', { vfs }), ErrorCode.MERGE_OPERATOR_MISMATCH, 'counter -> none')
  tree = await Tree.open('/db', { vfs, mergeOperator: 'counter' }) // the lock was released by the refusals
  t.same(tree.get('k'), c(42), 'data intact after refused opens')
  await tree.close()

  const plain = await Tree.open('/plain', { vfs })
  await plain.put('a', 'b')
  await plain.close()
  await rejectsWith(t, () => Tree.open('/plain', { vfs, mergeOperator: 'counter' }), ErrorCode.MERGE_OPERATOR_MISMATCH, 'none -> counter')
  const again = await Tree.open('/plain', { vfs })
  t.same(again.get('a'), b('b'))
  await again.close()
  await rejectsWith(t, () => Tree.open('/x', { vfs, mergeOperator: 'nope' }), ErrorCode.INVALID_ARGUMENT, 'unknown operator name')
})

const seeds = new Prng(seed)
const MERGE_MIX = { ...DEFAULT_MIX, write: 50, batch: 8, snapshot: 4, release: 2.5, flush: 2, compact: 1, reopen: 0.3 }

for (const operator of ['counter', 'append', 'max'] as const) {
  t.test(`randomized merge stripes (${operator})`, async (t) => {
    const runSeed = seeds.int(2 ** 32)
    const options: TreeOptions = { ...SMALL, vfs: new MemVfs(), mergeOperator: operator, memtableBytes: 4096 + seeds.int(4096) }
    try {
      const summary = await runModel({
        seed: runSeed,
        replaySeed: seed,
        steps: Math.round(1500 * scale),
        phases: 10,
        keyCount: 8,
        operator,
        mergeShare: 0.7,
        mix: MERGE_MIX,
        open: () => Tree.open('/db', options),
      })
      t.comment(`${operator}: ${summary.steps} steps, ${summary.flushes} flushes, ${summary.compactions} compactions, ${summary.reopens} reopens`)
      t.pass(`${operator} merges match the model (seed=${seed})`)
    } catch (error) {
      const e = error as Error
      t.fail(`${operator} (seed=${seed}, run seed=${runSeed}): ${e.message}`, { stack: e.stack })
    }
  })
}
