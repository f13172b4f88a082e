/**
 * The compaction simulator (bench/compaction-sim.ts) as an end-to-end check of the pickers
 * with no I/O: flush streams through each strategy with concurrent compactions, every result
 * installed with applyEdit (which asserts no overlap in L1+ and L0 order), L0 age order
 * checked after every install, every key read back through the Version at the newest seqno
 * and at held snapshots against a model (tombstones included, so a wrong bottommost flag
 * shows as a resurrected key; outputs cut between versions of one key, so a missing clean cut
 * shows as a stale read), and amplification bounds.
 */
import t from 'tap'

import { defaultSpec, formatResult, simulate, type SimulationSpec } from '../../../bench/compaction-sim.js'
import type { CompactionStrategyName } from '../../../src/engine/compaction/picker.js'
import { testSeed } from '../../helpers/prng.js'

const ENTRY_BYTES = 1024

/** A small run: 100 flushes of 40 keys over 3,000 keys, 32 KiB tables, 128 KiB base level. */
function small(strategy: CompactionStrategyName, overrides: Partial<SimulationSpec> = {}): SimulationSpec {
  const spec = defaultSpec(strategy, 'random')
  return {
    ...spec,
    options: {
      ...spec.options,
      tableBytes: 32 * ENTRY_BYTES,
      maxCompactionBytes: 25 * 32 * ENTRY_BYTES,
      levelBaseBytes: 128 * ENTRY_BYTES,
      levelSizeRatio: 4,
      fifo: { maxTotalBytes: 600 * ENTRY_BYTES, ttlSeconds: 0 },
    },
    flushes: 100, keysPerFlush: 40, keySpace: 3000, deleteFraction: 0.1, entryBytes: ENTRY_BYTES,
    compactionBytesPerTick: 400 * ENTRY_BYTES, verifyEvery: 40, seed: testSeed(),
    snapshotEvery: 10, snapshotTicks: 30,
    ...overrides,
  }
}

t.test('leveled: sound under concurrency; amplification within bounds', async (tt) => {
  for (const [concurrency, dynamicLevelBytes] of [[1, true], [3, true], [3, false]] as const) {
    const spec = small('leveled', { concurrency })
    spec.options = { ...spec.options, dynamicLevelBytes }
    const result = simulate(spec)
    const label = `concurrency ${concurrency}, dynamic ${dynamicLevelBytes}, seed ${spec.seed}`
    tt.same(result.violations, [], label)
    tt.ok(result.writeAmplification < 10, `${label}: write amplification ${result.writeAmplification.toFixed(2)}`)
    tt.ok(Math.max(...result.level0Files) <= spec.options.l0StopTrigger, `${label}: L0 within the stop trigger`)
    // Dynamic sizing bounds the levels above the last to ~1 / (ratio - 1) of it: 1.33 at ratio 4,
    // plus L0 and tombstones (40 seeds: at most 1.51).
    if (dynamicLevelBytes) tt.ok(result.spaceAmplification < 1.75, `${label}: space amplification ${result.spaceAmplification.toFixed(2)}`)
    tt.ok((result.tasks['merge:level-size'] ?? 0) > 0, `${label}: levels below base were compacted`)
  }
})

t.test('leveled, sequential keys: every compaction is a trivial move', async (tt) => {
  const result = simulate({ ...small('leveled'), workload: 'sequential', deleteFraction: 0 })
  tt.same(result.violations, [])
  tt.equal(result.compactionWrittenBytes, 0)
  tt.equal(result.writeAmplification, 1)
  tt.ok((result.tasks['move:l0-trigger'] ?? 0) > 0)
})

t.test('tiered: sound, every run in L0, space amplification bounded by its trigger', async (tt) => {
  for (const concurrency of [1, 3]) {
    const spec = small('tiered', { concurrency })
    const result = simulate(spec)
    const label = `concurrency ${concurrency}, seed ${spec.seed}`
    tt.same(result.violations, [], label)
    tt.same(result.levelBytes.slice(1), [0, 0, 0, 0, 0, 0], `${label}: nothing leaves L0`)
    const bound = 1 + spec.options.tiered.maxSpaceAmplificationPercent / 100
    tt.ok(result.spaceAmplificationMax < bound, `${label}: max space amplification ${result.spaceAmplificationMax.toFixed(2)} < ${bound}`)
    tt.ok(Math.max(...result.level0Files) <= spec.options.l0StopTrigger, `${label}: runs within the stop trigger`)
  }
})

t.test('fifo: the size cap holds and nothing is rewritten', async (tt) => {
  const spec = small('fifo')
  const result = simulate(spec)
  tt.same(result.violations, [])
  tt.equal(result.writeAmplification, 1)
  tt.ok(result.levelBytes.reduce((a, b) => a + b, 0) <= spec.options.fifo.maxTotalBytes)
  tt.ok((result.tasks['drop:fifo-size'] ?? 0) > 0)
})

t.test('slow compaction: writes stall, never deadlock, and L0 stays bounded', async (tt) => {
  for (const strategy of ['leveled', 'tiered'] as const) {
    const spec = small(strategy, { compactionBytesPerTick: 20 * ENTRY_BYTES, flushes: 60 })
    spec.options = { ...spec.options, l0CompactionTrigger: 2, l0SlowdownTrigger: 4, l0StopTrigger: 6 }
    const result = simulate(spec)
    tt.same(result.violations, [], strategy)
    tt.ok(result.stopTicks > 0, `${strategy}: writes had to wait (${result.stopTicks} ticks)`)
    tt.ok(Math.max(...result.level0Files) <= 6, `${strategy}: L0 never past the stop trigger`)
    tt.comment(formatResult(result))
  }
})
