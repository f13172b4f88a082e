/**
 * Compaction picking: the types of the decision layer and the dispatcher over the three
 * strategies (leveled.ts, tiered.ts, fifo.ts). STYLE rule 9: a picker is a pure function of
 * (Version, options, state) and returns a task description; the scheduler runs it, the runner
 * writes the tables and returns a VersionEdit (mini-lsm generate_compaction_task /
 * apply_compaction_result; coordinode-lsm-tree CompactionStrategy::choose).
 *
 * Contract of a CompactionTask (every picker guarantees it; tests check it):
 * - No input table is in state.busyTableIds, and no table appears twice.
 * - inputs lists the contributing levels, shallower first, each entry non-empty; L0 tables in
 *   L0 order (newest first), L1+ tables in key order.
 * - merge into outputLevel >= 1: after removing the inputs and adding the outputs (whose keys
 *   lie inside the inputs' key range), outputLevel stays sorted and non-overlapping, and no user
 *   key is split between an input and a table left behind in an input level (clean cuts).
 * - merge into L0 (intra-L0, tiered): the L0 inputs are contiguous in L0 order, so one output
 *   run keeps L0's age order. The runner should write it as ONE table (like a flush).
 * - move: the inputs (one level) are re-filed at outputLevel unchanged (edit: remove at their
 *   level, add the same TableMeta with level = outputLevel). They overlap no table of
 *   outputLevel; L0 inputs are pairwise disjoint, L1+ inputs are one clean-cut group (its
 *   neighbours may share a boundary key, as in any sorted level).
 * - drop (FIFO): the inputs are deleted; nothing is written; outputLevel is 0.
 * - Concurrency: a task never takes a busy table, and that is enough for its output range to
 *   miss whatever running tasks will write (leveled.ts says why), so results of concurrent
 *   tasks install in any order.
 * - bottommost: no table outside the inputs that may hold older data for a key in the inputs'
 *   range exists (deeper levels; older L0 tables when the output is L0). Only then may the
 *   compaction drop point and range tombstones.
 */
import { assert } from '../base/assert.js'
import { invalidArgument } from '../errors.js'
import type { TableMeta } from '../version/file-metadata.js'
import type { Version } from '../version/version.js'
import { pickFifo } from './fifo.js'
import { computeLevelTargets, estimatePendingCompactionBytes } from './level-targets.js'
import { pickLeveled } from './leveled.js'
import { pickTiered, tieredPendingBytes } from './tiered.js'

export type CompactionStrategyName = 'leveled' | 'tiered' | 'fifo'

export interface CompactionOptions {
  strategy: CompactionStrategyName
  /** L0 files (tiered: runs) that make L0 due for compaction. */
  l0CompactionTrigger: number
  /** L0 files at which writes slow down (not for FIFO: see write-stall.ts). */
  l0SlowdownTrigger: number
  /** L0 files at which writes wait for compaction. */
  l0StopTrigger: number
  /** Target bytes of the base level (static sizing: of L1). */
  levelBaseBytes: number
  /** Each level's target is this many times the one above. */
  levelSizeRatio: number
  /** RocksDB level_compaction_dynamic_level_bytes (level-targets.ts). */
  dynamicLevelBytes: boolean
  /** Target size of one output table. */
  tableBytes: number
  /** Preferred bound of one L1+ compaction's input bytes and of an intra-L0 compaction. */
  maxCompactionBytes: number
  tiered: {
    /** Runs merge while the next older run is at most (100 + this)% of the merged total. */
    sizeRatioPercent: number
    minMergeWidth: number
    maxMergeWidth: number
    /** Merge all runs when (all but the oldest) exceed this percent of the oldest. */
    maxSpaceAmplificationPercent: number
  }
  fifo: {
    /** Drop the oldest tables while the tree holds more than this (0 = no size cap). */
    maxTotalBytes: number
    /** Drop tables older than this (0 = no age cap). */
    ttlSeconds: number
  }
}

/** The default output table size (options.ts DEFAULTS.tableBytes). */
const DEFAULT_TABLE_BYTES = 64 * 1024 * 1024

export const DEFAULT_COMPACTION_OPTIONS: CompactionOptions = Object.freeze({
  strategy: 'leveled',
  l0CompactionTrigger: 4, // LevelDB and RocksDB
  l0SlowdownTrigger: 20, // RocksDB level0_slowdown_writes_trigger
  l0StopTrigger: 36, // RocksDB level0_stop_writes_trigger
  levelBaseBytes: 4 * DEFAULT_TABLE_BYTES, // RocksDB max_bytes_for_level_base = 256 MiB
  levelSizeRatio: 10,
  dynamicLevelBytes: true, // RocksDB's default since 8.4: space amplification near 1.1
  tableBytes: DEFAULT_TABLE_BYTES,
  maxCompactionBytes: 25 * DEFAULT_TABLE_BYTES, // RocksDB: 25 * target_file_size_base
  tiered: Object.freeze({
    sizeRatioPercent: 1, // RocksDB universal size_ratio
    minMergeWidth: 2, // RocksDB universal min_merge_width
    maxMergeWidth: 32, // bounds one merge's open files and fan-in
    maxSpaceAmplificationPercent: 200, // RocksDB universal default
  }),
  fifo: Object.freeze({
    maxTotalBytes: 1024 * 1024 * 1024, // RocksDB compaction_options_fifo.max_table_files_size
    ttlSeconds: 0,
  }),
})

/** L0 triggers are file counts; past this many L0 files reads would be hopeless anyway. */
export const L0_TRIGGER_MAX = 10_000
/** Level size ratios beyond this leave the lower levels unused. */
export const LEVEL_SIZE_RATIO_MAX = 1_000
/** Percentages (tiered) are bounded to keep arithmetic exact. */
export const PERCENT_MAX = 1_000_000

export interface PickerState {
  /** Tables in running compactions: never picked, and their output ranges are avoided. */
  busyTableIds: ReadonlySet<number>
  /** Wall-clock now, for FIFO's age cap. */
  nowMs: number
}

export interface CompactionTask {
  /** move = re-level tables without rewriting them; drop = FIFO deletion. */
  kind: 'merge' | 'move' | 'drop'
  reason:
    | 'l0-trigger' | 'level-size' | 'intra-l0' | 'tiered-space-amp' | 'tiered-size-ratio'
    | 'tiered-width' | 'fifo-size' | 'fifo-ttl'
  /** For leveled L_n -> L_n+1: [{ level n }, { level n+1, the overlapping tables }]. */
  inputs: { level: number; tables: TableMeta[] }[]
  outputLevel: number
  /** See the file comment: lets the compaction drop tombstones. */
  bottommost: boolean
  /** How overdue the trigger is (>= 1 when it fired); for logs and stats. */
  score: number
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidArgument(`compaction option ${name} must be an integer in [${min}, ${max}]`)
  }
}

/** Throws INVALID_ARGUMENT for options a user passed that no picker can honour. */
export function checkCompactionOptions(options: CompactionOptions): CompactionOptions {
  if (!['leveled', 'tiered', 'fifo'].includes(options.strategy)) {
    throw invalidArgument('compaction option strategy must be leveled, tiered or fifo')
  }
  checkInteger('l0CompactionTrigger', options.l0CompactionTrigger, 1, L0_TRIGGER_MAX)
  checkInteger('l0SlowdownTrigger', options.l0SlowdownTrigger, options.l0CompactionTrigger, L0_TRIGGER_MAX)
  // Stop must lie above the compaction trigger: otherwise writes could wait on an L0 that no
  // compaction is due to shrink (tiered reduces runs to the trigger, not below).
  const stopMin = Math.max(options.l0SlowdownTrigger, options.l0CompactionTrigger + 1)
  checkInteger('l0StopTrigger', options.l0StopTrigger, stopMin, L0_TRIGGER_MAX)
  checkInteger('levelBaseBytes', options.levelBaseBytes, 1, Number.MAX_SAFE_INTEGER)
  checkInteger('levelSizeRatio', options.levelSizeRatio, 2, LEVEL_SIZE_RATIO_MAX)
  checkInteger('tableBytes', options.tableBytes, 1, Number.MAX_SAFE_INTEGER)
  checkInteger('maxCompactionBytes', options.maxCompactionBytes, options.tableBytes, Number.MAX_SAFE_INTEGER)
  const { tiered, fifo } = options
  checkInteger('tiered.sizeRatioPercent', tiered.sizeRatioPercent, 0, PERCENT_MAX)
  checkInteger('tiered.minMergeWidth', tiered.minMergeWidth, 2, L0_TRIGGER_MAX)
  checkInteger('tiered.maxMergeWidth', tiered.maxMergeWidth, tiered.minMergeWidth, L0_TRIGGER_MAX)
  checkInteger('tiered.maxSpaceAmplificationPercent', tiered.maxSpaceAmplificationPercent, 0, PERCENT_MAX)
  checkInteger('fifo.maxTotalBytes', fifo.maxTotalBytes, 0, Number.MAX_SAFE_INTEGER)
  checkInteger('fifo.ttlSeconds', fifo.ttlSeconds, 0, Number.MAX_SAFE_INTEGER / 1000)
  return options
}

/** The next compaction to run, or undefined when nothing is due (or all of it is busy). */
export function pickCompaction(
  version: Version,
  options: CompactionOptions,
  state: PickerState,
): CompactionTask | undefined {
  assert(options.l0CompactionTrigger >= 1, 'options went through checkCompactionOptions')
  assert(Number.isFinite(state.nowMs), 'nowMs is a time')
  let task: CompactionTask | undefined
  switch (options.strategy) {
    case 'leveled': task = pickLeveled(version, options, state); break
    case 'tiered': task = pickTiered(version, options, state); break
    case 'fifo': task = pickFifo(version, options, state); break
  }
  if (task !== undefined) assertTask(task, state)
  return task
}

/** Verifies the generic part of the contract in the file comment. */
function assertTask(task: CompactionTask, state: PickerState): void {
  assert(task.inputs.length >= 1, 'a task has inputs')
  const seen = new Set<number>()
  let previousLevel = -1
  for (const { level, tables } of task.inputs) {
    assert(level > previousLevel, 'inputs are listed shallower level first, once per level')
    assert(tables.length >= 1, 'an input entry is never empty')
    previousLevel = level
    for (const table of tables) {
      assert(table.level === level, `input table ${table.id} is filed under its level`)
      assert(!state.busyTableIds.has(table.id), `input table ${table.id} is busy`)
      assert(!seen.has(table.id), `input table ${table.id} appears twice`)
      seen.add(table.id)
    }
  }
  if (task.kind === 'drop') {
    assert(task.outputLevel === 0, 'a drop writes nothing; its outputLevel is 0')
  } else if (task.kind === 'move') {
    assert(task.inputs.length === 1, 'a move re-files tables of one level')
    assert(task.outputLevel > previousLevel, 'a move goes down')
  } else {
    assert(task.outputLevel >= previousLevel, 'a merge writes at or below its deepest input level')
  }
}

/**
 * Bytes compaction still has to rewrite to reach the strategy's targets (tree.stats()).
 * leveled: RocksDB's estimate (level-targets.ts). tiered: the input bytes of the merge the
 * picker would choose if nothing were busy. fifo: 0 (drops rewrite nothing).
 */
export function pendingCompactionBytes(version: Version, options: CompactionOptions): number {
  switch (options.strategy) {
    case 'leveled':
      return estimatePendingCompactionBytes(version, options, computeLevelTargets(version, options))
    case 'tiered':
      return tieredPendingBytes(version, options)
    case 'fifo':
      return 0
  }
}

export { writeStall, type WriteStall, type WriteStallOptions } from './write-stall.js'
