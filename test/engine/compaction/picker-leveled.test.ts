/**
 * Leveled picking on synthetic Versions: the L0 trigger (all of L0 plus a clean cut of base),
 * trivial moves, intra-L0, level-size picking by minimum overlap ratio, clean cuts in both
 * levels, busy-table exclusion, bottommost, dynamic level targets for several shapes (derived
 * by hand from the algorithm in level-targets.ts), RocksDB's pending-bytes estimate, and a
 * seeded randomized check of the task contract (picker.ts) against brute force.
 */
import t from 'tap'

import { computeLevelTargets, estimatePendingCompactionBytes } from '../../../src/engine/compaction/level-targets.js'
import { INTRA_L0_FILES_MIN, levelScores } from '../../../src/engine/compaction/leveled.js'
import {
  checkCompactionOptions, pendingCompactionBytes, pickCompaction, type CompactionTask,
} from '../../../src/engine/compaction/picker.js'
import { Prng, testSeed } from '../../helpers/prng.js'
import {
  applySimulated, compactionOptions, contractViolations, inputIds, MiB, pickerState, randomBusy,
  randomVersion, versionFrom, type TableSpec,
} from '../../helpers/synthetic-version.js'

const STATIC = compactionOptions({
  dynamicLevelBytes: false, levelBaseBytes: 10 * MiB, levelSizeRatio: 10, l0CompactionTrigger: 4,
  tableBytes: MiB, maxCompactionBytes: 100 * MiB,
})
const IDLE = pickerState()

function pick(specs: TableSpec[], busy: number[] = [], options = STATIC): CompactionTask | undefined {
  const version = versionFrom(specs)
  const state = pickerState(busy)
  const task = pickCompaction(version, options, state)
  if (task !== undefined) {
    const problems = contractViolations(version, task, state)
    if (problems.length > 0) throw new Error(`contract: ${problems.join('; ')}`)
  }
  return task
}

const l0 = (id: number, from: number, to: number, sizeBytes = MiB): TableSpec => ({ id, level: 0, from, to, sizeBytes })
const at = (level: number, id: number, from: number, to: number, sizeBytes = MiB): TableSpec => ({ id, level, from, to, sizeBytes })

t.test('nothing is due: empty tree, L0 below the trigger, a level exactly at its target', async (tt) => {
  tt.equal(pickCompaction(versionFrom([]), STATIC, IDLE), undefined)
  tt.equal(pick([l0(10, 0, 100), l0(11, 0, 100), l0(12, 0, 100)]), undefined)
  const tenMiB = Array.from({ length: 10 }, (_, i) => at(1, i + 1, i * 10, i * 10 + 5))
  tt.equal(pick(tenMiB), undefined, 'score 1.0 is not above 1')
})

t.test('L0 trigger: all L0 files plus the overlapping base tables, widened to a clean cut', async (tt) => {
  const level0 = [l0(10, 100, 200), l0(11, 150, 250), l0(12, 120, 180), l0(13, 190, 260)]
  const level1 = [at(1, 1, 0, 50), at(1, 2, 60, 100), at(1, 3, 101, 140), at(1, 4, 260, 300), at(1, 5, 300, 400), at(1, 6, 401, 500)]
  const task = pick([...level0, ...level1, at(2, 7, 0, 1000)])!
  tt.equal(task.kind, 'merge')
  tt.equal(task.reason, 'l0-trigger')
  tt.equal(task.outputLevel, 1)
  tt.equal(task.score, 1)
  tt.same(inputIds(task), { 0: [13, 12, 11, 10], 1: [2, 3, 4, 5] }, 'table 5 shares key 300 with table 4')
  tt.equal(task.bottommost, false, 'L2 overlaps')
  tt.equal(pick([...level0, ...level1, at(2, 7, 600, 700)])!.bottommost, true, 'L2 outside the range')
  tt.equal(pick([...level0, ...level1])!.bottommost, true)
})

t.test('L0 trivial moves: disjoint L0 files with nothing below them', async (tt) => {
  const disjoint = [l0(10, 0, 9), l0(11, 10, 19), l0(12, 20, 29), l0(13, 30, 39)]
  const move = pick([...disjoint, at(1, 1, 100, 200)])!
  tt.equal(move.kind, 'move')
  tt.equal(move.outputLevel, 1)
  tt.same(inputIds(move), { 0: [13, 12, 11, 10] })
  const dynamic = compactionOptions({ l0CompactionTrigger: 4 })
  tt.equal(pick(disjoint, [], dynamic)!.outputLevel, 6, 'dynamic sizing: an empty tree\'s base is the last level')
  const sharedKey = [l0(10, 0, 10), l0(11, 10, 19), l0(12, 20, 29), l0(13, 30, 39)]
  tt.equal(pick(sharedKey)!.kind, 'merge', 'two L0 files holding key 10 are merged, not moved')
  const single = pick([l0(10, 5, 50)], [], compactionOptions({ ...STATIC, l0CompactionTrigger: 1 }))!
  tt.equal(single.kind, 'move', 'a single L0 file moves')
  tt.equal(pick([...disjoint, at(1, 1, 39, 45)])!.kind, 'merge', 'base overlaps at key 39')
})

t.test('a busy L0 file blocks L0 compaction (one at a time keeps L0 age order)', async (tt) => {
  const level0 = [l0(10, 0, 100), l0(11, 0, 100), l0(12, 0, 100), l0(13, 0, 100), l0(14, 0, 100)]
  tt.equal(pick(level0, [10]), undefined)
  tt.equal(pick(level0.slice(0, 4), [])!.reason, 'l0-trigger')
})

t.test('intra-L0 when the base tables are busy and L0 has trigger + 2 files', async (tt) => {
  const six = [20, 21, 22, 23, 24, 25].map((id) => l0(id, 0, 100))
  const below = [at(1, 1, 0, 1000), at(2, 2, 0, 1000)]
  const task = pick([...six, ...below], [1, 2])!
  tt.equal(task.kind, 'merge')
  tt.equal(task.reason, 'intra-l0')
  tt.equal(task.outputLevel, 0)
  tt.same(inputIds(task), { 0: [25, 24, 23, 22, 21, 20] })
  tt.equal(task.bottommost, false, 'L1 holds older data')
  tt.equal(pick([...six.slice(0, 5), ...below], [1, 2]), undefined, 'trigger + 1 files: wait')
  const bounded = compactionOptions({ ...STATIC, maxCompactionBytes: 4 * MiB })
  tt.same(inputIds(pick([...six, ...below], [1, 2], bounded)!), { 0: [25, 24, 23, 22] }, 'newest first, within the bound')
  const tooSmall = compactionOptions({ ...STATIC, maxCompactionBytes: (INTRA_L0_FILES_MIN - 1) * MiB })
  tt.equal(pick([...six, ...below], [1, 2], tooSmall), undefined, 'fewer than INTRA_L0_FILES_MIN files')
})

t.test('level size: the table with the smallest overlap ratio, preferring maxCompactionBytes', async (tt) => {
  const level1 = Array.from({ length: 11 }, (_, i) => at(1, i + 1, (i + 1) * 100, (i + 1) * 100 + 50, i === 4 ? 2 * MiB : MiB))
  const overlapBytes = [5, 2, 1, 3, 3, 3, 3, 3, 3, 3, 3]
  const level2 = overlapBytes.map((mib, i) => at(2, 101 + i, (i + 1) * 100, (i + 1) * 100 + 50, mib * MiB))
  const task = pick([...level1, ...level2])!
  tt.equal(task.reason, 'level-size')
  tt.equal(task.kind, 'merge')
  tt.same(inputIds(task), { 1: [3], 2: [103] }, 'ratio 1')
  tt.equal(task.outputLevel, 2)
  tt.equal(task.score, 12 / 10)
  tt.same(inputIds(pick([...level1, ...level2], [3])!), { 1: [5], 2: [105] }, 'next best: ratio 1.5')
  tt.same(inputIds(pick([...level1, ...level2], [103])!), { 1: [5], 2: [105] }, 'a busy output table excludes its candidate')
  const withFree = [...level1, ...level2, at(1, 12, 1300, 1350)]
  const move = pick(withFree)!
  tt.equal(move.kind, 'move', 'no overlap below: trivial move')
  tt.same(inputIds(move), { 1: [12] })

  const big = [at(1, 1, 0, 100, 200 * MiB), at(2, 11, 0, 100, 100 * MiB), at(1, 2, 200, 300, MiB), at(2, 12, 200, 300, 2 * MiB)]
  tt.same(inputIds(pick(big)!), { 1: [2], 2: [12] }, 'ratio 0.5 but 300 MiB > 100 MiB: ratio 2 within bound wins')
  const roomy = compactionOptions({ ...STATIC, maxCompactionBytes: 1000 * MiB })
  tt.same(inputIds(pick(big, [], roomy)!), { 1: [1], 2: [11] })
  tt.same(inputIds(pick(big, [2])!), { 1: [1], 2: [11] }, 'nothing fits: the best ratio anyway')
})

t.test('clean cuts: tables sharing a boundary key move or merge together', async (tt) => {
  const specs = [at(1, 1, 0, 100, 6 * MiB), at(1, 2, 100, 200, 6 * MiB), at(1, 3, 300, 400, 6 * MiB), at(2, 11, 300, 400, 60 * MiB)]
  const move = pick(specs)!
  tt.equal(move.kind, 'move')
  tt.same(inputIds(move), { 1: [1, 2] }, 'key 100 is in both: never split')
  const merge = pick(specs, [2])!
  tt.same(inputIds(merge), { 1: [3], 2: [11] }, 'a busy half blocks the whole group')
  tt.equal(pick(specs, [2, 11]), undefined, 'everything due is busy')
  const belowShared = [at(1, 1, 150, 160, 11 * MiB), at(2, 11, 100, 155), at(2, 12, 155, 170), at(2, 13, 170, 180), at(2, 14, 181, 190)]
  tt.same(inputIds(pick(belowShared)!), { 1: [1], 2: [11, 12, 13] }, 'next level widened over key 170')
})

t.test('tasks run beside busy ones when their tables are disjoint (the simulator checks installs)', async (tt) => {
  const running = [l0(20, 0, 1000), l0(21, 0, 1000), l0(22, 0, 1000), l0(23, 0, 1000), at(1, 1, 500, 600)]
  const task = pick([...running, at(1, 2, 2000, 2100, 20 * MiB), at(2, 12, 2000, 2100)], [20, 21, 22, 23, 1])!
  tt.same(inputIds(task), { 1: [2], 2: [12] }, 'L1 -> L2 runs beside L0 -> L1')
  const chain = [
    at(1, 1, 0, 100, 30 * MiB), at(2, 11, 50, 150, 150 * MiB), at(2, 12, 150, 300, 60 * MiB),
    at(2, 13, 500, 600, 150 * MiB), at(3, 21, 200, 400), at(3, 22, 500, 600, 500 * MiB),
  ]
  tt.same(inputIds(pick(chain)!), { 2: [11, 12], 3: [21] }, 'idle: L2 (3.6) first, least overlap')
  const beside = pick(chain, [1, 11])!
  tt.same(inputIds(beside), { 2: [13], 3: [22] }, 'table 12 shares key 150 with busy 11: only 13 may go')
})

t.test('bottommost: false when any deeper level overlaps, whatever the level', async (tt) => {
  const shape = [at(1, 1, 0, 100, 20 * MiB), at(2, 11, 0, 50), at(3, 21, 90, 95)]
  tt.equal(pick(shape)!.bottommost, false)
  tt.equal(pick(shape.slice(0, 2))!.bottommost, true)
  tt.equal(pick([...shape.slice(0, 2), at(3, 21, 101, 200)])!.bottommost, true, 'L3 just outside')
})

t.test('dynamic level targets for several shapes (hand-derived)', async (tt) => {
  const options = { levelBaseBytes: 1000, levelSizeRatio: 10, dynamicLevelBytes: true }
  const targets = (specs: TableSpec[]) => computeLevelTargets(versionFrom(specs), options)
  tt.same(targets([]), { baseLevel: 6, targetBytes: [0, 0, 0, 0, 0, 0, 1000] }, 'empty: L0 goes straight to L6')
  tt.same(targets([at(6, 1, 0, 9, 1_000_000)]), { baseLevel: 3, targetBytes: [0, 0, 0, 1000, 10_000, 100_000, 1_000_000] })
  tt.same(targets([at(6, 1, 0, 9, 1_234_567)]), { baseLevel: 2, targetBytes: [0, 0, 1000, 1230, 12_300, 123_000, 1_230_000] })
  tt.same(targets([at(6, 1, 0, 9, 100_000)]), { baseLevel: 4, targetBytes: [0, 0, 0, 0, 1000, 10_000, 100_000] })
  tt.same(targets([at(4, 2, 0, 9, 50), at(6, 1, 0, 9, 1_000_000)]), { baseLevel: 3, targetBytes: [0, 0, 0, 1000, 10_000, 100_000, 1_000_000] })
  tt.same(targets([at(4, 2, 0, 9, 5), at(6, 1, 0, 9, 5000)]), { baseLevel: 4, targetBytes: [0, 0, 0, 0, 1000, 1010, 10_100] }, 'more levels than the data needs')
  tt.same(targets([at(1, 2, 0, 9, 10), at(6, 1, 0, 9, 1e12)]), { baseLevel: 1, targetBytes: [0, 1000, 10_000, 100_000, 1e6, 1e7, 1e8] }, 'even L1 is too large')
  tt.same(computeLevelTargets(versionFrom([at(6, 1, 0, 9, 1e9)]), { ...options, dynamicLevelBytes: false }),
    { baseLevel: 1, targetBytes: [0, 1000, 10_000, 100_000, 1e6, 1e7, 1e8] }, 'static sizing')
})

t.test('dynamic sizing keeps the shape: data flows to the last level, base rises as it grows', async (tt) => {
  const options = compactionOptions({ levelBaseBytes: 10 * MiB, levelSizeRatio: 10 })
  const version = versionFrom([at(6, 1, 0, 1000, 500 * MiB), at(5, 2, 0, 1000, 60 * MiB), at(4, 3, 0, 100, 2 * MiB)])
  const { baseLevel, targetBytes } = computeLevelTargets(version, options)
  tt.equal(baseLevel, 4)
  tt.same(levelScores(version, options, { baseLevel, targetBytes }, IDLE).map((s) => s.level), [5], 'L5 (60 > 50 MiB) is due')
  const task = pickCompaction(version, options, IDLE)!
  tt.same(inputIds(task), { 5: [2], 6: [1] })
  tt.equal(task.bottommost, true)
})

t.test('pending compaction bytes: RocksDB estimate (hand-derived)', async (tt) => {
  const options = compactionOptions({ dynamicLevelBytes: false, levelBaseBytes: 1000, levelSizeRatio: 10, l0CompactionTrigger: 4 })
  const version = versionFrom([
    l0(30, 0, 9, 100), l0(31, 0, 9, 100), l0(32, 0, 9, 100), l0(33, 0, 9, 100),
    at(1, 1, 0, 9, 1500), at(2, 2, 0, 9, 20_000), at(3, 3, 0, 9, 50_000),
  ])
  // L0 due: 400 + base 1500; L1 1900 > 1000: 900 * (20000 / 1900 + 1) = 10373;
  // L2 20900 > 10000: 10900 * (50000 / 20900 + 1) = 36976; L3 60900 < 100000.
  tt.equal(estimatePendingCompactionBytes(version, options), 400 + 1500 + 10_373 + 36_976)
  tt.equal(pendingCompactionBytes(version, options), 49_249)
  tt.equal(pendingCompactionBytes(versionFrom([l0(30, 0, 9, 100)]), options), 0)
})

t.test('options that no picker can honour are INVALID_ARGUMENT', async (tt) => {
  tt.doesNotThrow(() => checkCompactionOptions(STATIC))
  const bad = [
    { l0CompactionTrigger: 0 }, { l0StopTrigger: 4, l0SlowdownTrigger: 4 }, { l0SlowdownTrigger: 3 },
    { levelSizeRatio: 1 }, { maxCompactionBytes: 1 }, { tableBytes: 0 }, { levelBaseBytes: 1.5 },
    { strategy: 'universal' as never }, { tiered: { minMergeWidth: 1 } }, { tiered: { maxMergeWidth: 1 } },
    { fifo: { maxTotalBytes: -1 } },
  ]
  for (const overrides of bad) {
    tt.throws(() => checkCompactionOptions(compactionOptions({ ...STATIC, ...overrides })), { code: 'INVALID_ARGUMENT' }, JSON.stringify(overrides))
  }
})

t.test('randomized: every leveled task keeps the contract (seeded)', async (tt) => {
  const seed = testSeed()
  tt.comment(`seed ${seed} (replay: STRATA_SEED=${seed})`)
  const rng = new Prng(seed)
  const seen: Record<string, number> = {}
  for (let run = 0; run < 300; run++) {
    let version = randomVersion(rng, { keySpace: 10_000, level0Files: rng.int(9), sizeBytesMax: 4 * MiB })
    const options = compactionOptions({
      dynamicLevelBytes: rng.bool(), levelBaseBytes: (1 + rng.int(8)) * MiB, levelSizeRatio: 2 + rng.int(9),
      l0CompactionTrigger: 1 + rng.int(4), tableBytes: MiB, maxCompactionBytes: (1 + rng.int(40)) * MiB,
    })
    for (let step = 0; step < 5; step++) {
      const state = pickerState(randomBusy(rng, version, rng.bool() ? 0 : 0.2))
      const task = pickCompaction(version, options, state)
      if (task === undefined) break
      seen[`${task.kind}:${task.reason}`] = (seen[`${task.kind}:${task.reason}`] ?? 0) + 1
      const problems = contractViolations(version, task, state)
      if (problems.length > 0) tt.fail(`seed ${seed} run ${run} step ${step}: ${problems.join('; ')}`)
      version = applySimulated(version, task, 1_000_000 + run * 10 + step)
    }
  }
  tt.comment(JSON.stringify(seen))
  for (const label of ['merge:l0-trigger', 'merge:level-size', 'move:level-size']) {
    tt.ok((seen[label] ?? 0) > 0, `saw ${label} (seed ${seed})`)
  }
})
