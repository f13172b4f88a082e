/**
 * Crash at every sync point: while a VersionSet creates a tree and installs edits (appends and
 * manifest rollovers), take MemVfs.crashClone() before every Vfs call (with and without torn
 * unsynced bytes) and recover each clone. The recovered state must always be exactly the
 * state before or after the operation in flight, never anything else, and a recovered tree
 * must accept further edits and recover again.
 */
import t from 'tap'

import { VersionSet } from '../../../src/engine/version/version-set.js'
import { FaultVfs } from '../../../src/engine/vfs/fault-vfs.js'
import { MemVfs } from '../../../src/engine/vfs/mem-vfs.js'
import { Prng, testSeed } from '../../helpers/prng.js'
import { describeVersion, EditSequence } from '../../helpers/version-edits.js'

const DIR = '/tree'
const INIT = { treeId: 'crash-tree', mergeOperatorName: null }

function picture(set: VersionSet): string {
  return JSON.stringify({
    version: describeVersion(set.current),
    lastSeqno: set.lastSeqno,
    logNumber: set.logNumber,
    treeId: set.treeId,
  })
}

/**
 * Runs `operation` (whose I/O goes through `faults`, a FaultVfs over `memory`), cloning the
 * crash state before every Vfs call, and once more after it resolved (the last clone).
 */
async function clonesDuring(memory: MemVfs, faults: FaultVfs, operation: () => Promise<unknown>): Promise<MemVfs[]> {
  const clones: MemVfs[] = []
  faults.onOp = () => {
    clones.push(memory.crashClone(), memory.crashClone({ tornWrites: true, seed: clones.length }))
  }
  try {
    await operation()
  } finally {
    faults.onOp = undefined
  }
  clones.push(memory.crashClone())
  return clones
}

t.test('crash during create: no tree, or the new empty tree', async (tt) => {
  const memory = new MemVfs()
  const faults = new FaultVfs(memory)
  let created: VersionSet | undefined
  const clones = await clonesDuring(memory, faults, async () => {
    created = await VersionSet.create(faults, DIR, INIT)
  })
  const expected = picture(created as VersionSet)
  const outcomes = new Set<string>()
  for (const clone of clones) {
    try {
      const recovered = await VersionSet.recover(clone, DIR)
      tt.equal(picture(recovered), expected)
      outcomes.add('created')
    } catch (err) {
      tt.match(err, { code: 'NOT_FOUND' }, 'without CURRENT there is no tree yet')
      outcomes.add('absent')
    }
  }
  tt.same([...outcomes].sort(), ['absent', 'created'])
})

t.test('crash at every sync point of logAndApply: old or new, never anything else', async (tt) => {
  const seed = testSeed()
  tt.comment(`seed ${seed} (replay with STRATA_SEED=${seed})`)
  const memory = new MemVfs()
  const faults = new FaultVfs(memory)
  // A small threshold makes many installs rollovers (new manifest + CURRENT switch).
  const options = { rolloverBytes: 1 }
  let set = await VersionSet.create(faults, DIR, INIT, options)
  const sequence = new EditSequence(new Prng(seed), set.current, () => set.newFileNumber())
  let crashPoints = 0
  let rollovers = 0
  const outcomes = { old: 0, new: 0 }
  for (let step = 0; step < 40; step++) {
    // Every seventh step reopens: the first install after recovery always rolls over.
    if (step % 7 === 6) set = await VersionSet.recover(faults, DIR, options)
    const before = picture(set)
    const manifestBefore = set.manifestName
    const edit = sequence.next()
    const clones = await clonesDuring(memory, faults, () => set.logAndApply(edit))
    const after = picture(set)
    if (set.manifestName !== manifestBefore) rollovers++
    crashPoints += clones.length
    for (const [i, clone] of clones.entries()) {
      const recovered = picture(await VersionSet.recover(clone, DIR, options))
      if (recovered === before) outcomes.old++
      else if (recovered === after) outcomes.new++
      else {
        tt.fail(`step ${step}, clone ${i}: recovered neither the old nor the new state (seed ${seed})`)
        return
      }
    }
    tt.equal(picture(await VersionSet.recover(clones.at(-1) as MemVfs, DIR)), after, `step ${step}: durable on resolve`)
  }
  tt.comment(`${crashPoints} crash states, ${rollovers} rollovers, outcomes ${JSON.stringify(outcomes)}`)
  tt.ok(rollovers >= 5, 'rollovers were crashed too')
  tt.ok(outcomes.old > 0 && outcomes.new > 0, 'both outcomes occur')
})

t.test('a recovered crash clone keeps working', async (tt) => {
  const seed = testSeed()
  const memory = new MemVfs()
  const faults = new FaultVfs(memory)
  const options = { rolloverBytes: 300 }
  const set = await VersionSet.create(faults, DIR, INIT, options)
  const sequence = new EditSequence(new Prng(seed), set.current, () => set.newFileNumber())
  for (let i = 0; i < 10; i++) await set.logAndApply(sequence.next())
  const edit = sequence.next()
  const clones = await clonesDuring(memory, faults, () => set.logAndApply(edit))
  for (const clone of clones) {
    const recovered = await VersionSet.recover(clone, DIR, options)
    const more = new EditSequence(new Prng(seed + 1), recovered.current, () => recovered.newFileNumber(), recovered.logNumber)
    for (let i = 0; i < 5; i++) await recovered.logAndApply(more.next())
    const again = await VersionSet.recover(clone.crashClone(), DIR, options)
    tt.equal(picture(again), picture(recovered))
    tt.ok(again.nextFileNumber >= recovered.nextFileNumber, 'no file number reused after a crash')
  }
})
