/**
 * Write stalls: the backpressure that keeps memory and read amplification bounded when writes
 * outrun flushes and compactions (LevelDB DBImpl::MakeRoomForWrite, RocksDB
 * WriteStallCondition). Pure: (Version, immutable memtable count, options) -> decision; the
 * write path applies it (sleeps delayMs before a commit, or waits until the next Version or
 * flush re-evaluates to something other than 'stop').
 *
 * Rules, first match wins:
 * 1. stop      immutable memtables >= immutableMemtablesMax (the active memtable cannot
 *              rotate; memory would grow without bound);
 * 2. stop      L0 files >= l0StopTrigger;
 * 3. slowdown  L0 files >= l0SlowdownTrigger: the delay grows geometrically from
 *              SLOWDOWN_DELAY_MS_MIN at the slowdown trigger towards SLOWDOWN_DELAY_MS_MAX at
 *              the stop trigger, so writers back off harder the closer L0 is to a stop;
 * 4. slowdown  immutable memtables >= immutableMemtablesMax - 1 when at least
 *              MEMTABLE_SLOWDOWN_MAX_MIN are allowed (RocksDB: max_write_buffer_number > 3),
 *              SLOWDOWN_DELAY_MS_MIN; rule 3's delay wins when both apply.
 * Rules 2 and 3 do not apply to FIFO: it never merges, so its L0 count is the table count of
 * its size budget, and a stop would wait for a compaction that never comes.
 * Deadlock freedom: checkCompactionOptions keeps l0StopTrigger > l0CompactionTrigger, and the
 * leveled and tiered pickers always bring L0 back to at most the trigger.
 */
import { assert } from '../base/assert.js'
import type { Version } from '../version/version.js'
import type { CompactionOptions } from './picker.js'

export type WriteStall =
  | { state: 'none' }
  | { state: 'slowdown'; delayMs: number; reason: string }
  | { state: 'stop'; reason: string }

/** LevelDB sleeps 1 ms per write once L0 reaches its slowdown trigger. */
export const SLOWDOWN_DELAY_MS_MIN = 1
/** Just below the stop trigger a writer still progresses, at about ten commits a second. */
export const SLOWDOWN_DELAY_MS_MAX = 100
/** Memtable slowdown needs room for one flush in flight plus one waiting (RocksDB: > 3 total). */
export const MEMTABLE_SLOWDOWN_MAX_MIN = 3

assert(SLOWDOWN_DELAY_MS_MIN >= 1 && SLOWDOWN_DELAY_MS_MIN < SLOWDOWN_DELAY_MS_MAX, 'delay bounds ordered')

export type WriteStallOptions = CompactionOptions & { immutableMemtablesMax: number }

/** Rule 3's delay for `files` L0 files, slowdown <= files < stop. */
export function level0DelayMs(files: number, options: Pick<CompactionOptions, 'l0SlowdownTrigger' | 'l0StopTrigger'>): number {
  const { l0SlowdownTrigger: slowdown, l0StopTrigger: stop } = options
  assert(files >= slowdown && files < stop, 'L0 is in the slowdown band')
  const fraction = (files - slowdown) / (stop - slowdown)
  const delayMs = Math.round(SLOWDOWN_DELAY_MS_MIN * (SLOWDOWN_DELAY_MS_MAX / SLOWDOWN_DELAY_MS_MIN) ** fraction)
  assert(delayMs >= SLOWDOWN_DELAY_MS_MIN && delayMs <= SLOWDOWN_DELAY_MS_MAX, 'delay within bounds')
  return delayMs
}

function level0Stall(files: number, options: WriteStallOptions): WriteStall {
  if (options.strategy === 'fifo') return { state: 'none' }
  if (files >= options.l0StopTrigger) {
    return { state: 'stop', reason: `L0 files ${files} >= stop trigger ${options.l0StopTrigger}` }
  }
  if (files >= options.l0SlowdownTrigger) {
    const reason = `L0 files ${files} >= slowdown trigger ${options.l0SlowdownTrigger}`
    return { state: 'slowdown', delayMs: level0DelayMs(files, options), reason }
  }
  return { state: 'none' }
}

/** Whether writes may proceed now, after a delay, or must wait. See the file comment. */
export function writeStall(version: Version, immutableMemtables: number, options: WriteStallOptions): WriteStall {
  const max = options.immutableMemtablesMax
  assert(Number.isSafeInteger(max) && max >= 1, 'immutableMemtablesMax >= 1')
  assert(Number.isSafeInteger(immutableMemtables) && immutableMemtables >= 0, 'immutable memtable count')
  assert(options.l0SlowdownTrigger <= options.l0StopTrigger, 'slowdown trigger <= stop trigger')
  if (immutableMemtables >= max) {
    return { state: 'stop', reason: `immutable memtables ${immutableMemtables} >= ${max}` }
  }
  const level0 = level0Stall((version.levels[0] ?? []).length, options)
  if (level0.state !== 'none') return level0
  if (max >= MEMTABLE_SLOWDOWN_MAX_MIN && immutableMemtables >= max - 1) {
    const reason = `immutable memtables ${immutableMemtables} >= ${max - 1}`
    return { state: 'slowdown', delayMs: SLOWDOWN_DELAY_MS_MIN, reason }
  }
  return { state: 'none' }
}
