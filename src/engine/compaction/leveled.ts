/**
 * Leveled compaction picking (LevelDB db/version_set.cc PickCompaction, RocksDB
 * LevelCompactionPicker), plus the key-range helpers tiered.ts shares. Pure: (Version,
 * options, state) -> task; see picker.ts for the task contract.
 *
 * Scores: L0 = idle L0 files / l0CompactionTrigger (due at >= 1); L1 .. the second-last level =
 * idle bytes / target (due above 1). Levels above base are empty by construction
 * (level-targets.ts). Levels are tried by score, highest first, until one yields a task.
 *
 * L0 (due): all L0 files, only when none is busy (one L0 compaction at a time keeps L0's age
 * order trivially intact; every L0 file is then newer than all of L1+), merged with the
 * overlapping base tables. A trivial move instead when nothing in base overlaps and the L0
 * files are pairwise disjoint. When the base tables (or the range they would be written to)
 * are busy and L0 holds >= trigger + 2 files: intra-L0, the newest files (contiguous, so the
 * output keeps L0's age order) up to maxCompactionBytes, at least INTRA_L0_FILES_MIN of them.
 *
 * L1+ (due): the choice of table is RocksDB's default kMinOverlappingRatio: among the level's
 * idle clean-cut groups, the one whose overlapping bytes in the next level are smallest
 * relative to its own bytes (least rewrite per byte moved down; a group with no overlap costs
 * nothing and becomes a trivial move), preferring groups whose total input is within
 * maxCompactionBytes; ties go to the smaller keys. Deterministic, no round-robin cursor.
 *
 * Clean cuts: in L1+ two neighbours may share a boundary user key, holding different versions
 * of it. A group is a table plus every neighbour chained to it by a shared boundary, and the
 * next level's overlapping tables are expanded the same way, so no user key is ever split
 * between a compacted table and one left behind (which could resurrect an older version or
 * lose a tombstone).
 *
 * Concurrency: a candidate is refused when any of its tables is busy. That suffices for
 * results of concurrent tasks to install in any order:
 * - An L1+ task's tables form one gapless key range: a clean-cut group plus every next-level
 *   table overlapping it (and their clean cuts). Two such ranges, of tasks with disjoint
 *   tables, cannot meet: any shared key would lie in a table of each, and two tables of one
 *   level sharing a key, or a next-level table overlapping a group, are always taken together.
 *   So neither task writes where the other reads or writes.
 * - An L0 task (to base, or intra-L0) needs every L0 file idle, so at most one runs. Its range
 *   may span gaps with no base table, but nothing else writes into base: the level above base
 *   is L0 or empty (level-targets.ts), and base only ever moves onto an empty level.
 */
import { assert } from '../base/assert.js'
import { compareBytes } from '../base/bytes.js'
import { LEVEL_COUNT } from '../options.js'
import type { TableMeta } from '../version/file-metadata.js'
import type { Version } from '../version/version.js'
import { computeLevelTargets, type LevelTargets } from './level-targets.js'
import type { CompactionOptions, CompactionTask, PickerState } from './picker.js'

/** RocksDB kMinFilesForIntraL0Compaction: merging fewer L0 files is not worth a rewrite. */
export const INTRA_L0_FILES_MIN = 4

export interface KeyRange {
  smallestKey: Uint8Array
  largestKey: Uint8Array
}

/** The inclusive hull of the tables' key ranges. Requires: at least one table. */
export function keyRangeOf(tables: readonly TableMeta[]): KeyRange {
  assert(tables.length >= 1, 'the key range of no tables')
  let smallestKey: Uint8Array = (tables[0] as TableMeta).smallestKey
  let largestKey: Uint8Array = (tables[0] as TableMeta).largestKey
  for (const table of tables) {
    if (compareBytes(table.smallestKey, smallestKey) < 0) smallestKey = table.smallestKey
    if (compareBytes(table.largestKey, largestKey) > 0) largestKey = table.largestKey
  }
  assert(compareBytes(smallestKey, largestKey) <= 0, 'tables have ordered key ranges')
  return { smallestKey, largestKey }
}

/** Whether two inclusive key ranges share a key. */
export function rangesOverlap(a: KeyRange, b: KeyRange): boolean {
  return compareBytes(a.largestKey, b.smallestKey) >= 0 && compareBytes(a.smallestKey, b.largestKey) <= 0
}

/**
 * picker.ts contract: no table outside `inputs` that may hold older data for a key in their
 * range: nothing overlapping in levels below `outputLevel`, and for an L0 output no
 * overlapping L0 table that is not strictly newer than every input.
 */
export function isBottommost(version: Version, inputs: readonly TableMeta[], outputLevel: number): boolean {
  assert(outputLevel >= 0 && outputLevel < LEVEL_COUNT, 'output level in range')
  const range = keyRangeOf(inputs)
  if (outputLevel === 0) {
    const ids = new Set(inputs.map((table) => table.id))
    const newestInputSeqno = Math.max(...inputs.map((table) => table.largestSeqno))
    for (const table of version.levels[0] as readonly TableMeta[]) {
      if (ids.has(table.id) || table.smallestSeqno > newestInputSeqno) continue
      if (rangesOverlap(table, range)) return false
    }
  }
  for (let level = Math.max(1, outputLevel + 1); level < LEVEL_COUNT; level++) {
    if (version.overlappingTables(level, range.smallestKey, range.largestKey).length > 0) return false
  }
  return true
}

function isBusy(state: PickerState, table: TableMeta): boolean {
  return state.busyTableIds.has(table.id)
}

function sumBytes(tables: readonly TableMeta[]): number {
  let bytes = 0
  for (const table of tables) bytes += table.sizeBytes
  return bytes
}

/** Widens [low, high] (indexes into a sorted level) over neighbours sharing a boundary key. */
function cleanCutBounds(tables: readonly TableMeta[], low: number, high: number): [number, number] {
  assert(low >= 0 && low <= high && high < tables.length, 'bounds inside the level')
  while (low > 0 && compareBytes((tables[low - 1] as TableMeta).largestKey, (tables[low] as TableMeta).smallestKey) === 0) low--
  while (high + 1 < tables.length && compareBytes((tables[high] as TableMeta).largestKey, (tables[high + 1] as TableMeta).smallestKey) === 0) high++
  return [low, high]
}

/** Tables of sorted `level` overlapping `range`, widened to a clean cut. */
function cleanCutOverlap(version: Version, level: number, range: KeyRange): TableMeta[] {
  assert(level >= 1, 'clean cuts are for sorted levels')
  const found = version.overlappingTables(level, range.smallestKey, range.largestKey)
  if (found.length === 0) return []
  const tables = version.levels[level] as readonly TableMeta[]
  const first = tables.indexOf(found[0] as TableMeta)
  assert(first >= 0 && tables[first + found.length - 1] === found[found.length - 1], 'overlap is contiguous')
  const [low, high] = cleanCutBounds(tables, first, first + found.length - 1)
  return tables.slice(low, high + 1)
}

/** Whether the tables' key ranges are pairwise disjoint (not even a shared boundary key). */
function pairwiseDisjoint(tables: readonly TableMeta[]): boolean {
  const sorted = [...tables].sort((a, b) => compareBytes(a.smallestKey, b.smallestKey))
  for (let i = 1; i < sorted.length; i++) {
    if (compareBytes((sorted[i - 1] as TableMeta).largestKey, (sorted[i] as TableMeta).smallestKey) >= 0) return false
  }
  return true
}

function makeTask(
  version: Version,
  fields: Pick<CompactionTask, 'kind' | 'reason' | 'inputs' | 'outputLevel' | 'score'>,
): CompactionTask {
  const tables = fields.inputs.flatMap((input) => input.tables)
  assert(tables.length >= 1, 'a task has input tables')
  assert(fields.outputLevel >= (fields.inputs[fields.inputs.length - 1] as { level: number }).level, 'output at or below inputs')
  return { ...fields, bottommost: isBottommost(version, tables, fields.outputLevel) }
}

export interface LevelScore {
  level: number
  score: number
}

/** Due levels, most overdue first (ties: shallower first). See the file comment. */
export function levelScores(version: Version, options: CompactionOptions, targets: LevelTargets, state: PickerState): LevelScore[] {
  const idle = (tables: readonly TableMeta[]): TableMeta[] => tables.filter((table) => !isBusy(state, table))
  const scores: LevelScore[] = []
  const level0Score = idle(version.levels[0] as readonly TableMeta[]).length / options.l0CompactionTrigger
  if (level0Score >= 1) scores.push({ level: 0, score: level0Score })
  for (let level = targets.baseLevel; level < LEVEL_COUNT - 1; level++) {
    const score = sumBytes(idle(version.levels[level] as readonly TableMeta[])) / (targets.targetBytes[level] as number)
    if (score > 1) scores.push({ level, score })
  }
  return scores.sort((a, b) => b.score - a.score || a.level - b.level)
}

function pickIntraLevel0(version: Version, options: CompactionOptions, score: number): CompactionTask | undefined {
  const level0 = version.levels[0] as readonly TableMeta[]
  if (level0.length < options.l0CompactionTrigger + 2) return undefined
  const picked: TableMeta[] = []
  let bytes = 0
  for (const table of level0) {
    if (picked.length > 0 && bytes + table.sizeBytes > options.maxCompactionBytes) break
    picked.push(table)
    bytes += table.sizeBytes
  }
  if (picked.length < INTRA_L0_FILES_MIN) return undefined
  assert(picked[0] === level0[0], 'intra-L0 takes the newest files, contiguously')
  return makeTask(version, { kind: 'merge', reason: 'intra-l0', inputs: [{ level: 0, tables: picked }], outputLevel: 0, score })
}

function pickLevel0(version: Version, options: CompactionOptions, state: PickerState, baseLevel: number, score: number): CompactionTask | undefined {
  const level0 = [...(version.levels[0] as readonly TableMeta[])]
  assert(level0.length >= 1, 'L0 is due, so it has files')
  if (level0.some((table) => isBusy(state, table))) return undefined
  const below = cleanCutOverlap(version, baseLevel, keyRangeOf(level0))
  if (below.some((table) => isBusy(state, table))) return pickIntraLevel0(version, options, score)
  const inputs = [{ level: 0, tables: level0 }]
  const fields = { reason: 'l0-trigger', outputLevel: baseLevel, score } as const
  if (below.length === 0 && pairwiseDisjoint(level0)) return makeTask(version, { ...fields, kind: 'move', inputs })
  if (below.length > 0) inputs.push({ level: baseLevel, tables: below })
  return makeTask(version, { ...fields, kind: 'merge', inputs })
}

interface Candidate {
  group: TableMeta[]
  below: TableMeta[]
  overlapRatio: number
  inputBytes: number
}

function evaluateGroup(version: Version, state: PickerState, group: TableMeta[], level: number): Candidate | undefined {
  if (group.some((table) => isBusy(state, table))) return undefined
  const below = cleanCutOverlap(version, level + 1, keyRangeOf(group))
  if (below.some((table) => isBusy(state, table))) return undefined
  const groupBytes = sumBytes(group)
  const belowBytes = sumBytes(below)
  return { group, below, overlapRatio: belowBytes / Math.max(1, groupBytes), inputBytes: groupBytes + belowBytes }
}

/** The minimum-overlap-ratio candidate, preferring those within maxCompactionBytes. */
function bestCandidate(candidates: readonly Candidate[], maxCompactionBytes: number): Candidate | undefined {
  let best: Candidate | undefined
  let bestFits = false
  for (const candidate of candidates) {
    const fits = candidate.inputBytes <= maxCompactionBytes
    if (best === undefined || (fits && !bestFits) || (fits === bestFits && candidate.overlapRatio < best.overlapRatio)) {
      best = candidate
      bestFits = fits
    }
  }
  return best
}

function pickSortedLevel(version: Version, options: CompactionOptions, state: PickerState, level: number, score: number): CompactionTask | undefined {
  assert(level >= 1 && level < LEVEL_COUNT - 1, 'a sorted level with a level below it')
  const tables = version.levels[level] as readonly TableMeta[]
  const candidates: Candidate[] = []
  for (let i = 0; i < tables.length;) {
    const [low, high] = cleanCutBounds(tables, i, i)
    assert(low === i, 'groups are visited left to right')
    const candidate = evaluateGroup(version, state, tables.slice(low, high + 1), level)
    if (candidate !== undefined) candidates.push(candidate)
    i = high + 1
  }
  const best = bestCandidate(candidates, options.maxCompactionBytes)
  if (best === undefined) return undefined
  const fields = { reason: 'level-size', outputLevel: level + 1, score } as const
  const inputs = [{ level, tables: best.group }]
  if (best.below.length === 0) return makeTask(version, { ...fields, kind: 'move', inputs })
  inputs.push({ level: level + 1, tables: best.below })
  return makeTask(version, { ...fields, kind: 'merge', inputs })
}

/** Leveled strategy: see the file comment. */
export function pickLeveled(version: Version, options: CompactionOptions, state: PickerState): CompactionTask | undefined {
  const targets = computeLevelTargets(version, options)
  for (const { level, score } of levelScores(version, options, targets, state)) {
    const task = level === 0
      ? pickLevel0(version, options, state, targets.baseLevel, score)
      : pickSortedLevel(version, options, state, level, score)
    if (task !== undefined) return task
  }
  return undefined
}
