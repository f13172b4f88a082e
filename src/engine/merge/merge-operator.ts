/**
 * Merge operators (pebble internal/base/merger.go shape).
 *
 * A merge operand is stored as an entry of kind Merge. Reads fold the operands of a key onto
 * its base value (the newest Put below them, or nothing when a Delete, a range tombstone or the
 * end of history comes first).
 *
 * Law (associativity): folding must not depend on grouping, so compaction may combine a run of
 * operands into one partial operand and fold it later:
 *   start(A).mergeOlder(B).mergeOlder(C) == start(C).mergeNewer(B).mergeNewer(A)
 *   and finish(false) of a partial fold, used as one operand, folds like its parts.
 *
 * The operator's `name` is persisted in the manifest; opening a tree with another operator (or
 * none, when it has one) is refused with MERGE_OPERATOR_MISMATCH.
 */
export interface MergeOperator {
  readonly name: string
  /** Throws StrataError INVALID_OPERAND when `operand` cannot be an operand of this operator. */
  validateOperand(operand: Uint8Array): void
  /** Starts a fold at `operand` (the newest operand when folding older ones in). */
  start(key: Uint8Array, operand: Uint8Array): ValueMerger
}

export interface ValueMerger {
  /** Folds in an operand newer than everything folded so far. */
  mergeNewer(operand: Uint8Array): void
  /** Folds in an operand (or base value) older than everything folded so far. */
  mergeOlder(operand: Uint8Array): void
  /**
   * The result. `includesBase` is true when the fold reached the key's base (a Put value was
   * folded in with mergeOlder, or the history ends/was deleted there): the result is then a
   * full value. When false, the result is a partial operand to be stored as a Merge entry.
   */
  finish(includesBase: boolean): Buffer
}

/** Folds operands (newest first) onto `base` (undefined: no base). Returns the full value. */
export function foldOperands(
  op: MergeOperator,
  key: Uint8Array,
  operandsNewestFirst: readonly Uint8Array[],
  base: Uint8Array | undefined,
): Buffer {
  const first = operandsNewestFirst[0]
  if (first === undefined) throw new Error('foldOperands needs at least one operand')
  const merger = op.start(key, first)
  for (let i = 1; i < operandsNewestFirst.length; i++) merger.mergeOlder(operandsNewestFirst[i] as Uint8Array)
  if (base !== undefined) merger.mergeOlder(base)
  return merger.finish(true)
}
