/**
 * The MVCC garbage-collection stream every compaction runs its input through.
 *
 * Readers are grouped into stripes by the live snapshots s_0 < s_1 < ... < s_{m-1}: stripe j
 * holds the seqnos in (s_{j-1}, s_j], and stripe m everything above the newest snapshot (the
 * readers of the latest state). A reader in stripe j reads at R_j = s_j (R_m = infinity). For
 * each user key, only the newest version visible in each stripe can ever be read, so:
 * - an entry covered by a range tombstone t of its own stripe (entry < t <= R_j) is dropped:
 *   no reader sees it;
 * - below the newest Put/Delete of a stripe, the stripe's older entries are dropped;
 * - a newest Merge folds the older entries of its stripe into it: reaching a Put (base), a
 *   Delete or a covered entry gives a Put of the full value; reaching the stripe's end gives a
 *   partial Merge, unless nothing older exists (bottommost level) or a tombstone of the stripe
 *   covers the key, when it is a full value as well;
 * - at the bottommost level, Deletes with nothing older below them are dropped, and range
 *   tombstone seqnos in stripe 0 (no snapshot below them) are dropped: everything they covered
 *   is already gone.
 * Range tombstones keep only their newest seqno per stripe.
 * A compaction filter (compaction-filter.ts) then sees each surviving Put of the top stripe.
 */
import { KeyKind } from '../base/internal-key.js'
import { StrataError, ErrorCode } from '../errors.js'
import type { InternalIterator } from '../iterator/internal-iterator.js'
import type { FragmentedTombstones, TombstoneFragment } from '../iterator/range-tombstones.js'
import { foldOperands, type MergeOperator } from '../merge/merge-operator.js'
import { MAX_SEQNO } from '../base/internal-key.js'
import { VALUE_BYTES_MAX } from '../options.js'
import { checkDecision, type CompactionFilter } from './compaction-filter.js'

export interface StreamEntry {
  key: Buffer
  seqno: number
  kind: KeyKind
  value: Buffer
}

export interface CompactionStreamOptions {
  /** Live snapshot seqnos, ascending, distinct. */
  snapshots: readonly number[]
  /** True when no older data for these keys exists below the output level. */
  bottommost: boolean
  mergeOperator: MergeOperator | undefined
  /** Range tombstones of every input. */
  tombstones: FragmentedTombstones
  /** Applied to the top stripe's surviving Puts; `outputLevel` is passed to it. */
  filter?: { filter: CompactionFilter; outputLevel: number } | undefined
}

export class CompactionStream {
  constructor(private readonly options: CompactionStreamOptions) {}

  /** Index of the stripe holding `seqno`. */
  stripeOf(seqno: number): number {
    const s = this.options.snapshots
    let lo = 0
    let hi = s.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (s[mid]! >= seqno) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  private readerSeqno(stripe: number): number {
    return this.options.snapshots[stripe] ?? MAX_SEQNO
  }

  /** Yields the surviving entries of `it` (positioned by the caller or not), in internal order. */
  *entries(it: InternalIterator): Generator<StreamEntry> {
    it.first()
    while (it.valid) {
      const key = Buffer.from(it.key)
      const versions: StreamEntry[] = []
      for (; it.valid && it.key.equals(key); it.next()) {
        versions.push({ key, seqno: it.seqno, kind: it.kind, value: Buffer.from(it.value) })
      }
      yield* this.collapse(key, versions)
    }
  }

  /** Collapses the versions of one key (newest first) per the rules in the file comment. */
  collapse(key: Buffer, versions: readonly StreamEntry[]): StreamEntry[] {
    const out: StreamEntry[] = []
    let i = 0
    while (i < versions.length) {
      const e = versions[i]!
      const stripe = this.stripeOf(e.seqno)
      const tomb = this.tombstoneFor(key, stripe)
      if (e.seqno < tomb) {
        i++
        continue
      }
      if (e.kind === KeyKind.Merge) {
        const { entry, next } = this.foldMerge(key, versions, i, stripe, tomb)
        out.push(entry)
        i = next
      } else {
        out.push(e)
        i++
      }
      if (stripe === this.options.snapshots.length) this.applyFilter(out)
      while (i < versions.length && this.stripeOf(versions[i]!.seqno) === stripe) i++
    }
    if (this.options.bottommost) {
      while (out.length > 0 && out[out.length - 1]!.kind === KeyKind.Delete) out.pop()
    }
    return out
  }

  /** Runs the filter on the entry just pushed (of the top stripe), if it is a Put. */
  private applyFilter(out: StreamEntry[]): void {
    const f = this.options.filter
    const e = out[out.length - 1]!
    if (f === undefined || e.kind !== KeyKind.Put) return
    const decision = checkDecision(
      f.filter,
      f.filter.filter(e.key, e.value, { outputLevel: f.outputLevel, seqno: e.seqno, bottommost: this.options.bottommost }),
    )
    if (decision === 'keep') return
    if (decision === 'remove') {
      out[out.length - 1] = { key: e.key, seqno: e.seqno, kind: KeyKind.Delete, value: Buffer.alloc(0) }
      return
    }
    if (decision.value.length > VALUE_BYTES_MAX) {
      throw new StrataError(ErrorCode.INVALID_ARGUMENT, `compaction filter '${f.filter.name}' returned a value over ${VALUE_BYTES_MAX} bytes`)
    }
    out[out.length - 1] = { ...e, value: Buffer.from(decision.value) }
  }

  private tombstoneFor(key: Buffer, stripe: number): number {
    const t = this.options.tombstones
    return t.isEmpty ? 0 : t.maxCoveringSeqno(key, this.readerSeqno(stripe))
  }

  private foldMerge(
    key: Buffer,
    versions: readonly StreamEntry[],
    start: number,
    stripe: number,
    tomb: number,
  ): { entry: StreamEntry; next: number } {
    const op = this.options.mergeOperator
    if (!op) throw new StrataError(ErrorCode.NO_MERGE_OPERATOR, 'merge operands in a tree without a merge operator')
    const head = versions[start]!
    const operands: Buffer[] = [head.value]
    let base: Buffer | undefined
    let full = false
    let k = start + 1
    for (; k < versions.length && this.stripeOf(versions[k]!.seqno) === stripe; k++) {
      const x = versions[k]!
      if (x.seqno < tomb) {
        full = true
        break
      }
      if (x.kind === KeyKind.Put) {
        base = x.value
        full = true
        k++
        break
      }
      if (x.kind === KeyKind.Delete) {
        full = true
        k++
        break
      }
      operands.push(x.value)
    }
    if (!full && k >= versions.length && (this.options.bottommost || tomb > 0)) full = true
    if (full) {
      return { entry: { key, seqno: head.seqno, kind: KeyKind.Put, value: foldOperands(op, key, operands, base) }, next: k }
    }
    const merger = op.start(key, operands[0]!)
    for (let n = 1; n < operands.length; n++) merger.mergeOlder(operands[n]!)
    return { entry: { key, seqno: head.seqno, kind: KeyKind.Merge, value: merger.finish(false) }, next: k }
  }

  /** The range tombstones to write to the output: newest seqno per stripe, stripe 0 dropped at the bottom. */
  outputTombstones(): TombstoneFragment[] {
    const out: TombstoneFragment[] = []
    for (const f of this.options.tombstones.fragments()) {
      const seqnos: number[] = []
      let lastStripe = -1
      for (const s of f.seqnos) {
        const stripe = this.stripeOf(s)
        if (stripe === lastStripe) continue
        lastStripe = stripe
        if (this.options.bottommost && stripe === 0) continue
        seqnos.push(s)
      }
      if (seqnos.length > 0) out.push({ start: f.start, end: f.end, seqnos })
    }
    return out
  }
}
