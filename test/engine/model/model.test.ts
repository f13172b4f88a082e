/**
 * Model-based randomized test of the public Tree: thousands of random puts, deletes, range
 * deletes, merges, batches (several ops on one key), concurrent writes (group commit),
 * snapshots, gets and scans (bounds, prefix, reverse, limit, seek) at the newest seqno and at
 * held snapshots, iterators held open across writes and flushes, interleaved with flush(),
 * compact() and close()+reopen — every read compared with the brute-force TreeModel.
 *
 * Options are tiny (4-16 KiB memtables, 256-byte blocks, 4 KiB tables) so memtables rotate and
 * tables multiply. The seed is printed; replay with STRATA_SEED=<seed>. The long soak:
 *   STRATA_TEST_SCALE=20 npx tap --timeout=0 test/engine/model/model.test.ts
 * (a failing run prints its seed and the last actions; save it as regression-<bug>.test.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'

import { MemVfs, Tree, nodeVfs } from '../../../src/engine/index.js'
import type { TreeOptions } from '../../../src/engine/index.js'
import { Prng, testScale, testSeed } from '../../helpers/prng.js'
import { runModel, type ModelRunConfig, type ModelRunSummary } from '../../helpers/model-random.js'

const seed = testSeed()
const scale = testScale()
t.comment(`model test seed=${seed} scale=${scale} (replay: STRATA_SEED=${seed})`)

/** A tap test object (the one t.test hands to its callback). */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0]

/** Per-run seeds derive from the printed one, so one number replays the whole file. */
const seeds = new Prng(seed)

async function check(t: TapTest, name: string, config: ModelRunConfig): Promise<ModelRunSummary | undefined> {
  const started = Date.now()
  try {
    const summary = await runModel(config)
    t.comment(
      `${name}: ${summary.steps} steps, seqno ${summary.seqno}, ${summary.liveKeys} live keys, ` +
        `${summary.flushes} flushes, ${summary.compactions} compactions, ${summary.reopens} reopens, ` +
        `${summary.finalStats.tables} tables at the end, ${Date.now() - started} ms`,
    )
    t.pass(`${name} matches the model (seed=${seed})`)
    return summary
  } catch (error) {
    const e = error as Error
    t.fail(`${name} (seed=${seed}, run seed=${config.seed}): ${e.message}`, { stack: e.stack })
    return undefined
  }
}

const SMALL: TreeOptions = { blockBytes: 256, tableBytes: 4096, blockCacheBytes: 64 * 1024 }

t.test('MemVfs, counter operator, no compression', async (t) => {
  const vfs = new MemVfs()
  const runSeed = seeds.int(2 ** 32)
  const options: TreeOptions = { ...SMALL, vfs, mergeOperator: 'counter', memtableBytes: 4096 + seeds.int(12289) }
  t.comment(`options: memtableBytes=${options.memtableBytes}`)
  const summary = await check(t, 'counter/mem', {
    seed: runSeed,
    replaySeed: seed,
    steps: Math.round(2500 * scale),
    phases: 12,
    keyCount: 60,
    operator: 'counter',
    open: () => Tree.open('/db', options),
  })
  if (summary) t.ok(summary.flushes >= 5, `memtables rotated and flushed (${summary.flushes} flushes)`)
})

t.test('MemVfs, append operator, zstd, bloom filters off; options vary between opens', async (t) => {
  const vfs = new MemVfs()
  const runSeed = seeds.int(2 ** 32)
  const base: TreeOptions = { ...SMALL, vfs, mergeOperator: 'append', compression: 'zstd', filterBitsPerKey: 0, blockCacheBytes: 0 }
  // Tables written under one set of options must read under another: each reopen draws anew.
  const variation = new Prng(runSeed ^ 0x5eed)
  let opens = 0
  const open = (): Promise<Tree> => {
    const options: TreeOptions = opens++ === 0 ? { ...base, memtableBytes: 16384 } : {
      ...base,
      compression: variation.pick(['none', 'zstd'] as const),
      blockBytes: variation.pick([256, 512, 4096]),
      filterBitsPerKey: variation.pick([0, 10]),
      blockCacheBytes: variation.pick([0, 64 * 1024]),
      memtableBytes: variation.range(4096, 16384),
    }
    return Tree.open('/db', options)
  }
  const summary = await check(t, 'append/zstd/mem', {
    seed: runSeed,
    replaySeed: seed,
    steps: Math.round(2000 * scale),
    phases: 10,
    keyCount: 150,
    operator: 'append',
    open,
  })
  if (summary) t.ok(summary.flushes >= 5, `memtables rotated and flushed (${summary.flushes} flushes)`)
})

t.test('MemVfs, no merge operator, sync none, 200 keys', async (t) => {
  const vfs = new MemVfs()
  const runSeed = seeds.int(2 ** 32)
  const options: TreeOptions = { ...SMALL, vfs, sync: 'none', memtableBytes: 4096 + seeds.int(12289) }
  t.comment(`options: memtableBytes=${options.memtableBytes}`)
  await check(t, 'plain/mem', {
    seed: runSeed,
    replaySeed: seed,
    steps: Math.round(1500 * scale),
    phases: 8,
    keyCount: 200,
    open: () => Tree.open('/db', options),
  })
})

t.test('NodeVfs in a temp dir, counter operator', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-model-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const runSeed = seeds.int(2 ** 32)
  const options: TreeOptions = { ...SMALL, vfs: nodeVfs, sync: 'none', mergeOperator: 'counter', memtableBytes: 16384 }
  await check(t, 'counter/node', {
    seed: runSeed,
    replaySeed: seed,
    steps: Math.round(400 * scale),
    phases: 4,
    keyCount: 50,
    operator: 'counter',
    open: () => Tree.open(join(dir, 'db'), options),
  })
})

// Background compaction under each merging strategy, with triggers small enough that many
// compactions run while the model holds and releases snapshots and iterators.
for (const strategy of ['leveled', 'tiered'] as const) {
  t.test(`MemVfs, ${strategy} background compaction with tiny triggers, append operator`, async (t) => {
    const vfs = new MemVfs()
    const runSeed = seeds.int(2 ** 32)
    const compaction: TreeOptions['compaction'] = strategy === 'leveled'
      ? { strategy, l0CompactionTrigger: 2, l0SlowdownTrigger: 6, l0StopTrigger: 10, levelBaseBytes: 8192, levelSizeRatio: 4 }
      : { strategy, l0CompactionTrigger: 2, l0SlowdownTrigger: 6, l0StopTrigger: 10 }
    const options: TreeOptions = { ...SMALL, vfs, mergeOperator: 'append', memtableBytes: 4096, compaction }
    const summary = await check(t, `${strategy}/background`, {
      seed: runSeed,
      replaySeed: seed,
      steps: Math.round(2000 * scale),
      phases: 6,
      keyCount: 120,
      operator: 'append',
      open: () => Tree.open('/db', options),
    })
    if (summary) t.ok(summary.compactions >= 10, `many compactions ran (${summary.compactions})`)
  })
}
