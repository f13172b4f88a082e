/**
 * Size-tiered picking on synthetic Versions (all runs in L0, newest first): the space
 * amplification, size ratio and width triggers in that order, their boundaries, busy runs,
 * contiguity in age of every merge, bottommost, pending bytes, and a seeded randomized check
 * of the task contract (picker.ts) against brute force.
 */
import t from 'tap'

import { pendingCompactionBytes, pickCompaction, type CompactionTask } from '../../../src/engine/compaction/picker.js'
import { Prng, testSeed } from '../../helpers/prng.js'
import {
  applySimulated, compactionOptions, contractViolations, inputIds, MiB, pickerState, randomBusy, versionFrom,
  type TableSpec,
} from '../../helpers/synthetic-version.js'

const TIERED = compactionOptions({
  strategy: 'tiered', l0CompactionTrigger: 4,
  tiered: { sizeRatioPercent: 1, minMergeWidth: 2, maxMergeWidth: 32, maxSpaceAmplificationPercent: 200 },
})

/** Runs given newest first; ids count down so the first is the newest (largest id). */
function runs(sizesNewestFirst: number[], firstId = 100): TableSpec[] {
  return sizesNewestFirst.map((sizeBytes, i) => ({ id: firstId - i, level: 0, from: 0, to: 1000, sizeBytes }))
}

function pick(specs: TableSpec[], busy: number[] = [], options = TIERED): CompactionTask | undefined {
  const version = versionFrom(specs)
  const state = pickerState(busy)
  const task = pickCompaction(version, options, state)
  if (task !== undefined) {
    const problems = contractViolations(version, task, state)
    if (problems.length > 0) throw new Error(`contract: ${problems.join('; ')}`)
  }
  return task
}

t.test('nothing below the trigger, however amplified', async (tt) => {
  tt.equal(pick(runs([10 * MiB, 10 * MiB, MiB])), undefined)
  tt.equal(pickCompaction(versionFrom([]), TIERED, pickerState()), undefined)
})

t.test('space amplification: all runs merge into the oldest', async (tt) => {
  const task = pick(runs([MiB, MiB, MiB, MiB]))!
  tt.equal(task.kind, 'merge')
  tt.equal(task.reason, 'tiered-space-amp')
  tt.equal(task.outputLevel, 0)
  tt.same(inputIds(task), { 0: [100, 99, 98, 97] })
  tt.equal(task.score, 300 / 200)
  tt.equal(task.bottommost, true)
  tt.equal(pick(runs([MiB, MiB, MiB, 1.5 * MiB]))!.reason, 'tiered-space-amp', 'exactly 200%')
  tt.not(pick(runs([MiB, MiB, MiB, 1.6 * MiB]))!.reason, 'tiered-space-amp', '187.5%')
})

t.test('size ratio: the newest runs while the next is within (100 + ratio)% of the total', async (tt) => {
  const shape = runs([MiB, MiB, MiB, MiB, 10 * MiB])
  const task = pick(shape)!
  tt.equal(task.reason, 'tiered-size-ratio')
  tt.same(inputIds(task), { 0: [100, 99, 98, 97] })
  tt.equal(task.bottommost, false, 'the oldest run overlaps and stays')
  tt.equal(task.score, 5 / 4)
  const capped = compactionOptions({ ...TIERED, tiered: { ...TIERED.tiered, maxMergeWidth: 3 } })
  tt.same(inputIds(pick(shape, [], capped)!), { 0: [100, 99, 98] }, 'maxMergeWidth caps it')
  // Boundary: 100 * 1.01 = 101 admits a 101-byte run, not a 102-byte one.
  tt.same(inputIds(pick(runs([100, 101, 1000, 100_000]), [], { ...TIERED, l0CompactionTrigger: 3 })!), { 0: [100, 99] })
  tt.equal(pick(runs([100, 101, 1000, 100_000]), [], { ...TIERED, l0CompactionTrigger: 3 })!.reason, 'tiered-size-ratio')
  tt.equal(pick(runs([100, 102, 1000, 100_000]), [], { ...TIERED, l0CompactionTrigger: 3 })!.reason, 'tiered-width')
})

t.test('width: too many runs merge the newest, whatever their sizes', async (tt) => {
  const growing = runs([1, 3, 9, 27, 81, 243].map((n) => n * MiB))
  const task = pick(growing)!
  tt.equal(task.reason, 'tiered-width')
  tt.same(inputIds(task), { 0: [100, 99, 98] }, '6 runs - trigger 4 + 1 = 3')
  tt.equal(task.score, 6 / 4)
  const wide = compactionOptions({ ...TIERED, tiered: { ...TIERED.tiered, minMergeWidth: 5 } })
  tt.same(inputIds(pick(runs([MiB, MiB, MiB, MiB, 10 * MiB]), [], wide)!), { 0: [100, 99] }, 'size ratio finds 4 < 5: width')
  tt.equal(pick(runs([1, 3, 9, 27].map((n) => n * MiB))), undefined, 'at the trigger, sizes well spread: nothing')
})

t.test('busy runs: skipped at the newest end, otherwise they cut groups; merges stay contiguous', async (tt) => {
  const even = runs([MiB, MiB, MiB, MiB, MiB])
  const newestBusy = pick(even, [100])!
  tt.equal(newestBusy.reason, 'tiered-space-amp')
  tt.same(inputIds(newestBusy), { 0: [99, 98, 97, 96] })
  tt.equal(newestBusy.bottommost, true, 'the busy run is newer than every input')
  const middleBusy = pick(even, [98])!
  tt.equal(middleBusy.reason, 'tiered-size-ratio')
  tt.same(inputIds(middleBusy), { 0: [100, 99] }, 'stops at the busy run')
  const oldestBusy = pick(even, [96])!
  tt.same(inputIds(oldestBusy), { 0: [100, 99, 98, 97] })
  tt.equal(oldestBusy.bottommost, false, 'the busy oldest run holds older data')
  tt.equal(pick(even, [100, 98, 96]), undefined, 'no two adjacent idle runs')
})

t.test('tables in L1+ (left by another strategy) are never inputs but make merges non-bottommost', async (tt) => {
  const task = pick([...runs([MiB, MiB, MiB, MiB]), { id: 1, level: 3, from: 500, to: 600 }])!
  tt.same(Object.keys(inputIds(task)), ['0'])
  tt.equal(task.bottommost, false)
  tt.equal(pick([...runs([MiB, MiB, MiB, MiB]), { id: 1, level: 3, from: 5000, to: 6000 }])!.bottommost, true)
})

t.test('pending bytes: the inputs of the merge that is due', async (tt) => {
  const options = { ...TIERED }
  tt.equal(pendingCompactionBytes(versionFrom(runs([MiB, MiB, MiB, MiB, 10 * MiB])), options), 4 * MiB)
  tt.equal(pendingCompactionBytes(versionFrom(runs([MiB, MiB])), options), 0)
})

t.test('randomized: merges are contiguous in age and keep the contract (seeded)', async (tt) => {
  const seed = testSeed()
  tt.comment(`seed ${seed} (replay: STRATA_SEED=${seed})`)
  const rng = new Prng(seed)
  const seen: Record<string, number> = {}
  for (let run = 0; run < 300; run++) {
    const count = 1 + rng.int(14)
    const specs: TableSpec[] = Array.from({ length: count }, (_, i) => {
      const from = rng.int(1000)
      return { id: 1000 - i, level: 0, from, to: from + rng.int(500), sizeBytes: 1 + rng.int(rng.bool() ? 100 : 10 * MiB) }
    })
    const options = compactionOptions({
      strategy: 'tiered', l0CompactionTrigger: 1 + rng.int(6),
      tiered: { sizeRatioPercent: rng.int(50), minMergeWidth: 2 + rng.int(3), maxMergeWidth: 5 + rng.int(5), maxSpaceAmplificationPercent: 50 + rng.int(300) },
    })
    let version = versionFrom(specs)
    for (let step = 0; step < 6; step++) {
      const state = pickerState(randomBusy(rng, version, rng.bool() ? 0 : 0.25))
      const task = pickCompaction(version, options, state)
      if (task === undefined) break
      seen[task.reason] = (seen[task.reason] ?? 0) + 1
      const level0 = version.levels[0]!
      const first = level0.indexOf(task.inputs[0]!.tables[0]!)
      const contiguous = task.inputs[0]!.tables.every((table, i) => level0[first + i] === table)
      if (!contiguous) tt.fail(`seed ${seed} run ${run}: inputs not contiguous`)
      const problems = contractViolations(version, task, state)
      if (problems.length > 0) tt.fail(`seed ${seed} run ${run} step ${step}: ${problems.join('; ')}`)
      version = applySimulated(version, task, 5000 + run * 10 + step)
    }
  }
  tt.comment(JSON.stringify(seen))
  for (const reason of ['tiered-space-amp', 'tiered-size-ratio', 'tiered-width']) tt.ok((seen[reason] ?? 0) > 0, `saw ${reason}`)
})
