/**
 * Write stalls: thresholds at and around the L0 slowdown and stop triggers and the immutable
 * memtable limits, the delay ramp, FIFO's exemption from L0 triggers, and the option rules
 * that keep stalls from deadlocking.
 */
import t from 'tap'

import { checkCompactionOptions } from '../../../src/engine/compaction/picker.js'
import {
  level0DelayMs, MEMTABLE_SLOWDOWN_MAX_MIN, SLOWDOWN_DELAY_MS_MAX, SLOWDOWN_DELAY_MS_MIN, writeStall,
  type WriteStall, type WriteStallOptions,
} from '../../../src/engine/compaction/write-stall.js'
import { compactionOptions, versionFrom } from '../../helpers/synthetic-version.js'

const OPTIONS: WriteStallOptions = {
  ...compactionOptions({ l0CompactionTrigger: 4, l0SlowdownTrigger: 20, l0StopTrigger: 36 }),
  immutableMemtablesMax: 4,
}

function withLevel0(files: number) {
  return versionFrom(Array.from({ length: files }, (_, i) => ({ id: i + 1, level: 0, from: 0, to: 100 })))
}

function stall(files: number, immutable = 0, options: WriteStallOptions = OPTIONS): WriteStall {
  return writeStall(withLevel0(files), immutable, options)
}

t.test('no stall below the slowdown trigger', async (tt) => {
  tt.same(stall(0), { state: 'none' })
  tt.same(stall(19), { state: 'none' })
})

t.test('L0 slowdown band: delay grows from the minimum towards the maximum', async (tt) => {
  const first = stall(20)
  tt.equal(first.state, 'slowdown')
  tt.equal(first.state === 'slowdown' && first.delayMs, SLOWDOWN_DELAY_MS_MIN, 'the minimum at the trigger')
  tt.match(first.state === 'slowdown' ? first.reason : '', /L0 files 20 >= slowdown trigger 20/)
  let previous = 0
  for (let files = 20; files < 36; files++) {
    const result = stall(files)
    if (result.state !== 'slowdown') {
      tt.fail(`${files} files: ${result.state}`)
      continue
    }
    tt.ok(result.delayMs >= previous, `${files} files: ${result.delayMs} ms does not shrink`)
    tt.ok(result.delayMs < SLOWDOWN_DELAY_MS_MAX, `${files} files: below the maximum`)
    previous = result.delayMs
  }
  tt.ok(previous > 50, `the last step before stop is long (${previous} ms)`)
  tt.equal(level0DelayMs(28, OPTIONS), 10, 'geometric: halfway is sqrt(1 * 100)')
})

t.test('L0 stop at and past the stop trigger', async (tt) => {
  tt.same(stall(36), { state: 'stop', reason: 'L0 files 36 >= stop trigger 36' })
  tt.equal(stall(50).state, 'stop')
  const noBand = { ...OPTIONS, l0SlowdownTrigger: 36 }
  tt.same(stall(35, 0, noBand), { state: 'none' }, 'slowdown = stop: no band')
})

t.test('immutable memtables: stop at the limit, slow down one below it', async (tt) => {
  tt.same(stall(0, 4), { state: 'stop', reason: 'immutable memtables 4 >= 4' })
  tt.same(stall(0, 3), { state: 'slowdown', delayMs: SLOWDOWN_DELAY_MS_MIN, reason: 'immutable memtables 3 >= 3' })
  tt.same(stall(0, 2), { state: 'none' })
  const two = { ...OPTIONS, immutableMemtablesMax: 2 }
  tt.ok(2 < MEMTABLE_SLOWDOWN_MAX_MIN)
  tt.same(stall(0, 1, two), { state: 'none' }, 'with 2 allowed, one in flight is normal')
  tt.equal(stall(0, 2, two).state, 'stop')
  tt.equal(stall(40, 4).state, 'stop', 'both: stop')
  const both = stall(30, 3)
  tt.ok(both.state === 'slowdown' && both.delayMs > SLOWDOWN_DELAY_MS_MIN && /L0/.test(both.reason), 'the longer L0 delay wins')
})

t.test('FIFO never stalls on L0: it never merges, a stop would wait forever', async (tt) => {
  const fifo = { ...OPTIONS, strategy: 'fifo' as const }
  tt.same(stall(100, 0, fifo), { state: 'none' })
  tt.equal(stall(100, 4, fifo).state, 'stop', 'memtables still bound memory')
})

t.test('option rules that keep stalls deadlock-free', async (tt) => {
  const check = (overrides: object) => () => checkCompactionOptions({ ...OPTIONS, ...overrides })
  tt.doesNotThrow(check({}))
  tt.throws(check({ l0CompactionTrigger: 8, l0SlowdownTrigger: 8, l0StopTrigger: 8 }), { code: 'INVALID_ARGUMENT' }, 'stop must exceed the trigger')
  tt.doesNotThrow(check({ l0CompactionTrigger: 8, l0SlowdownTrigger: 8, l0StopTrigger: 9 }))
  tt.throws(check({ l0SlowdownTrigger: 40 }), { code: 'INVALID_ARGUMENT' }, 'slowdown above stop')
  tt.throws(check({ l0SlowdownTrigger: 3 }), { code: 'INVALID_ARGUMENT' }, 'slowdown below the trigger')
})
