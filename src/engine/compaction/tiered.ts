/**
 * Size-tiered compaction picking (RocksDB universal compaction, UniversalCompactionBuilder;
 * mini-lsm tiered.rs; coordinode-lsm-tree SizeTiered). Pure: (Version, options, state) ->
 * task; see picker.ts for the task contract.
 *
 * Model: every table of L0 is one sorted run; L0 is newest first, so runs[0] is the newest and
 * runs[n - 1] the oldest. Merges write one run back to L0 and always take runs that are
 * CONTIGUOUS in that order: the output's seqno range then lies between its newer and older
 * neighbours and L0's age order survives (an output that skipped a run could hold versions
 * both newer and older than that run's). The runner should write the output as one table.
 * Tables in L1+ (left by another strategy) are never touched; they only make merges
 * non-bottommost where they overlap.
 *
 * Nothing is due below l0CompactionTrigger runs. At or above it, the first trigger that fires:
 * 1. tiered-space-amp: with `newer` = bytes of all runs but the oldest, merge them all into the
 *    oldest when newer * 100 >= maxSpaceAmplificationPercent * oldest. Busy runs may only be a
 *    prefix of the newest (skipped); any other busy run blocks it.
 * 2. tiered-size-ratio: for each idle start run, newest first, extend over idle older runs
 *    while the next run's bytes <= accumulated bytes * (100 + sizeRatioPercent) / 100, up to
 *    maxMergeWidth runs; the first group of >= minMergeWidth runs is merged.
 * 3. tiered-width: with k idle runs above the trigger, merge the newest contiguous idle runs,
 *    k - trigger + 1 of them (at least 2, at most maxMergeWidth), bringing the count back to
 *    the trigger whatever the sizes (bounds read amplification; write stalls rely on it).
 */
import { assert } from '../base/assert.js'
import type { TableMeta } from '../version/file-metadata.js'
import type { Version } from '../version/version.js'
import { isBottommost } from './leveled.js'
import type { CompactionOptions, CompactionTask, PickerState } from './picker.js'

type Accept = (accumulatedBytes: number, next: TableMeta) => boolean

function sumBytes(tables: readonly TableMeta[]): number {
  let bytes = 0
  for (const table of tables) bytes += table.sizeBytes
  return bytes
}

/**
 * RocksDB's PickCompactionToReduceSortedRuns loop: the first contiguous group of idle runs,
 * trying start positions from the newest, extended while `accept` holds, of minCount..maxCount.
 */
function contiguousGroup(
  runs: readonly TableMeta[],
  state: PickerState,
  widths: { minCount: number; maxCount: number },
  accept: Accept,
): TableMeta[] | undefined {
  assert(widths.minCount >= 2 && widths.minCount <= widths.maxCount, 'merge widths')
  for (let start = 0; start < runs.length; start++) {
    const first = runs[start] as TableMeta
    if (state.busyTableIds.has(first.id)) continue
    const group = [first]
    let accumulatedBytes = first.sizeBytes
    for (let i = start + 1; i < runs.length && group.length < widths.maxCount; i++) {
      const next = runs[i] as TableMeta
      if (state.busyTableIds.has(next.id) || !accept(accumulatedBytes, next)) break
      group.push(next)
      accumulatedBytes += next.sizeBytes
    }
    if (group.length >= widths.minCount) return group
  }
  return undefined
}

function task(version: Version, reason: CompactionTask['reason'], runs: TableMeta[], score: number): CompactionTask {
  assert(runs.length >= 2, 'a merge takes at least two runs')
  const level0 = version.levels[0] as readonly TableMeta[]
  const first = level0.indexOf(runs[0] as TableMeta)
  assert(runs.every((run, i) => level0[first + i] === run), 'merged runs are contiguous in age')
  return {
    kind: 'merge', reason, inputs: [{ level: 0, tables: runs }], outputLevel: 0,
    bottommost: isBottommost(version, runs, 0), score,
  }
}

function spaceAmpTask(version: Version, options: CompactionOptions, state: PickerState): CompactionTask | undefined {
  const runs = version.levels[0] as readonly TableMeta[]
  let start = 0
  while (start < runs.length - 1 && state.busyTableIds.has((runs[start] as TableMeta).id)) start++
  const group = runs.slice(start)
  if (group.length < 2 || group.some((run) => state.busyTableIds.has(run.id))) return undefined
  const oldestBytes = (group[group.length - 1] as TableMeta).sizeBytes
  const newerBytes = sumBytes(group) - oldestBytes
  const limitPercent = options.tiered.maxSpaceAmplificationPercent
  if (newerBytes === 0 || newerBytes * 100 < limitPercent * oldestBytes) return undefined
  const ampPercent = oldestBytes === 0 ? Number.MAX_SAFE_INTEGER : (newerBytes * 100) / oldestBytes
  return task(version, 'tiered-space-amp', group, ampPercent / Math.max(1, limitPercent))
}

function sizeRatioTask(version: Version, options: CompactionOptions, state: PickerState): CompactionTask | undefined {
  const { sizeRatioPercent, minMergeWidth, maxMergeWidth } = options.tiered
  const runs = version.levels[0] as readonly TableMeta[]
  const accept: Accept = (accumulatedBytes, next) => next.sizeBytes * 100 <= accumulatedBytes * (100 + sizeRatioPercent)
  const group = contiguousGroup(runs, state, { minCount: minMergeWidth, maxCount: maxMergeWidth }, accept)
  if (group === undefined) return undefined
  return task(version, 'tiered-size-ratio', group, runs.length / options.l0CompactionTrigger)
}

function widthTask(version: Version, options: CompactionOptions, state: PickerState): CompactionTask | undefined {
  const runs = version.levels[0] as readonly TableMeta[]
  const idleRuns = runs.filter((run) => !state.busyTableIds.has(run.id)).length
  if (idleRuns <= options.l0CompactionTrigger) return undefined
  const count = Math.min(options.tiered.maxMergeWidth, Math.max(2, idleRuns - options.l0CompactionTrigger + 1))
  const group = contiguousGroup(runs, state, { minCount: 2, maxCount: count }, () => true)
  if (group === undefined) return undefined
  return task(version, 'tiered-width', group, runs.length / options.l0CompactionTrigger)
}

/** Tiered strategy: see the file comment. */
export function pickTiered(version: Version, options: CompactionOptions, state: PickerState): CompactionTask | undefined {
  if ((version.levels[0] as readonly TableMeta[]).length < options.l0CompactionTrigger) return undefined
  return spaceAmpTask(version, options, state) ??
    sizeRatioTask(version, options, state) ??
    widthTask(version, options, state)
}

/** Input bytes of the merge pickTiered would choose with nothing busy (0 when none is due). */
export function tieredPendingBytes(version: Version, options: CompactionOptions): number {
  const due = pickTiered(version, options, { busyTableIds: new Set(), nowMs: 0 })
  if (due === undefined) return 0
  const bytes = due.inputs.reduce((total, input) => total + sumBytes(input.tables), 0)
  assert(bytes >= 0, 'pending bytes is non-negative')
  return bytes
}
