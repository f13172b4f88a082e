/**
 * Level targets for leveled compaction: the size each level L1+ should hold, the base level
 * (where L0 compacts to), and RocksDB's estimate of the bytes still to compact. Pure functions
 * of (Version, options); no I/O.
 *
 * Static sizing (dynamicLevelBytes = false; LevelDB, RocksDB's default before 8.4):
 *   base = L1, target(L1) = levelBaseBytes, target(Ln+1) = target(Ln) * levelSizeRatio.
 *
 * Dynamic sizing (dynamicLevelBytes = true; RocksDB level_compaction_dynamic_level_bytes,
 * VersionStorageInfo::CalculateBaseBytes). The shape is fixed from the bottom so the last
 * level holds ~ratio/(ratio+1) of the data and space amplification stays near 1.1:
 *   1. maxLevelBytes = the largest L1+ level's size (normally the last level);
 *      firstNonEmpty = the shallowest L1+ level holding a table.
 *   2. No L1+ data: base = the last level (L0 compacts straight to it); every target is
 *      levelBaseBytes (nothing to score yet).
 *   3. Otherwise pretend the last level's target is maxLevelBytes and divide by the ratio once
 *      per level up to firstNonEmpty, giving `size` (floor at each step, as RocksDB's integer
 *      arithmetic does). With baseBytesMax = levelBaseBytes, baseBytesMin = baseBytesMax / ratio:
 *      a. size <= baseBytesMin: more levels are in use than the data needs; base =
 *         firstNonEmpty and its target is baseBytesMin + 1;
 *      b. else base = firstNonEmpty, then move base up (base - 1, size / ratio) while
 *         base > 1 and size > baseBytesMax; base's target is size, or baseBytesMax when even
 *         L1 is too large.
 *   4. Going down from base, each level's target is the one above times the ratio, never
 *      less than baseBytesMax (RocksDB: a level smaller than L0 would make scoring starve L0).
 * Levels above base (1..base-1) are empty by construction: base <= firstNonEmpty in both cases
 * of step 3. Their target is 0. Base only moves onto an empty level: up as the data grows
 * (onto a level above firstNonEmpty), down as it shrinks (to the new firstNonEmpty or above).
 *
 * Invariants: 1 <= baseLevel <= LEVEL_COUNT - 1; targetBytes has LEVEL_COUNT entries;
 * targetBytes[0] = 0 (L0 is scored by file count); targetBytes[level] = 0 exactly for
 * 1 <= level < baseLevel, and those levels are empty; every target at or below base is >= 1.
 */
import { assert } from '../base/assert.js'
import { LEVEL_COUNT } from '../options.js'
import type { Version } from '../version/version.js'
import type { CompactionOptions } from './picker.js'

export interface LevelTargets {
  /** The level L0 compacts into. */
  baseLevel: number
  /** Target bytes per level (see the file comment for the 0 entries). */
  targetBytes: readonly number[]
}

type SizingOptions = Pick<CompactionOptions, 'levelBaseBytes' | 'levelSizeRatio' | 'dynamicLevelBytes'>

function assertSizing(options: SizingOptions): void {
  assert(Number.isSafeInteger(options.levelBaseBytes) && options.levelBaseBytes >= 1, 'levelBaseBytes >= 1')
  assert(Number.isInteger(options.levelSizeRatio) && options.levelSizeRatio >= 2, 'levelSizeRatio >= 2')
}

function staticTargets(options: SizingOptions): LevelTargets {
  const targetBytes = [0]
  let size = options.levelBaseBytes
  for (let level = 1; level < LEVEL_COUNT; level++) {
    targetBytes.push(size)
    size = Math.min(size * options.levelSizeRatio, Number.MAX_SAFE_INTEGER)
  }
  return { baseLevel: 1, targetBytes }
}

/** Steps 3a/3b of the file comment: the base level and its target. */
function findBase(maxLevelBytes: number, firstNonEmpty: number, options: SizingOptions): [number, number] {
  const ratio = options.levelSizeRatio
  const baseBytesMax = options.levelBaseBytes
  const baseBytesMin = Math.floor(baseBytesMax / ratio)
  let size = maxLevelBytes
  for (let level = LEVEL_COUNT - 2; level >= firstNonEmpty; level--) size = Math.floor(size / ratio)
  if (size <= baseBytesMin) return [firstNonEmpty, baseBytesMin + 1]
  let base = firstNonEmpty
  while (base > 1 && size > baseBytesMax) {
    base--
    size = Math.floor(size / ratio)
  }
  if (size > baseBytesMax) {
    assert(base === 1, 'only L1 can be too large for the base target')
    return [base, baseBytesMax]
  }
  return [base, Math.max(1, size)]
}

function dynamicTargets(version: Version, options: SizingOptions): LevelTargets {
  let maxLevelBytes = 0
  let firstNonEmpty = -1
  for (let level = 1; level < LEVEL_COUNT; level++) {
    if (version.levels[level]!.length > 0 && firstNonEmpty === -1) firstNonEmpty = level
    maxLevelBytes = Math.max(maxLevelBytes, version.levelBytes(level))
  }
  const targetBytes: number[] = new Array<number>(LEVEL_COUNT).fill(0)
  if (firstNonEmpty === -1) {
    for (let level = 1; level < LEVEL_COUNT; level++) targetBytes[level] = options.levelBaseBytes
    return { baseLevel: LEVEL_COUNT - 1, targetBytes: fillAbove(targetBytes, LEVEL_COUNT - 1) }
  }
  const [baseLevel, baseBytes] = findBase(maxLevelBytes, firstNonEmpty, options)
  let size = baseBytes
  for (let level = baseLevel; level < LEVEL_COUNT; level++) {
    if (level > baseLevel) size = Math.min(size * options.levelSizeRatio, Number.MAX_SAFE_INTEGER)
    targetBytes[level] = Math.max(size, options.levelBaseBytes)
  }
  return { baseLevel, targetBytes: fillAbove(targetBytes, baseLevel) }
}

/** Levels above base hold nothing in the dynamic shape: target 0. */
function fillAbove(targetBytes: number[], baseLevel: number): number[] {
  for (let level = 0; level < baseLevel; level++) targetBytes[level] = 0
  return targetBytes
}

export function computeLevelTargets(version: Version, options: SizingOptions): LevelTargets {
  assertSizing(options)
  const targets = options.dynamicLevelBytes ? dynamicTargets(version, options) : staticTargets(options)
  assert(targets.targetBytes.length === LEVEL_COUNT, 'one target per level')
  assert(targets.baseLevel >= 1 && targets.baseLevel < LEVEL_COUNT, 'base level is L1+')
  for (let level = 1; level < targets.baseLevel; level++) {
    assert(version.levels[level]!.length === 0, 'levels above base are empty')
  }
  for (let level = targets.baseLevel; level < LEVEL_COUNT; level++) {
    assert((targets.targetBytes[level] as number) >= 1, 'targets at and below base are positive')
  }
  return targets
}

/**
 * RocksDB's VersionStorageInfo::EstimateCompactionBytesNeeded: the bytes compaction must still
 * rewrite to bring every level within its target.
 *   - If L0 is due (files >= l0CompactionTrigger or bytes >= levelBaseBytes), all of L0 plus
 *     all of the base level will be rewritten, and L0's bytes flow into base.
 *   - Walking from base to the second-last level: a level holding `size` (its own bytes plus
 *     what flows in from above) over its target sends `size - target` down, rewriting it with
 *     the next level's data in proportion: (size - target) * (next / size + 1).
 */
export function estimatePendingCompactionBytes(
  version: Version,
  options: SizingOptions & Pick<CompactionOptions, 'l0CompactionTrigger'>,
  targets: LevelTargets = computeLevelTargets(version, options),
): number {
  assert(options.l0CompactionTrigger >= 1, 'l0CompactionTrigger >= 1')
  let pending = 0
  let flowingDown = 0
  const level0Bytes = version.levelBytes(0)
  const level0Due =
    version.levels[0]!.length >= options.l0CompactionTrigger || level0Bytes >= options.levelBaseBytes
  if (level0Due) {
    pending += level0Bytes
    flowingDown = level0Bytes
  }
  for (let level = targets.baseLevel; level < LEVEL_COUNT - 1; level++) {
    let size = version.levelBytes(level)
    if (level === targets.baseLevel && level0Due) pending += size
    size += flowingDown
    flowingDown = 0
    const target = targets.targetBytes[level] as number
    if (size <= target) continue
    flowingDown = size - target
    const nextBytes = version.levelBytes(level + 1)
    if (nextBytes > 0) pending += Math.floor(flowingDown * (nextBytes / size + 1))
  }
  assert(Number.isFinite(pending) && pending >= 0, 'pending bytes is a non-negative number')
  return pending
}
