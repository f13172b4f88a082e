/**
 * TreeIterator: the public iterator. It walks a merged internal iterator and, for each user key,
 * collapses its versions at the read seqno: entries newer than the read seqno are skipped,
 * range tombstones hide older entries, merge operands fold onto their base (leveldb DBIter).
 *
 * Shape follows abstract-level: `next()`, `nextv(n)`, `all()`, `seek(target)`, `close()`, plus
 * `for...of` and `for await...of` (both close the iterator when the loop ends or breaks).
 * It is synchronous: every source reads synchronously (see vfs/vfs.ts).
 *
 * Returned keys are fresh copies; returned values are owned by the caller (never reused).
 * The iterator pins its Version (so compaction cannot delete its files) until closed.
 */
import { compareBytes } from '../base/bytes.js'
import { KeyKind } from '../base/internal-key.js'
import { StrataError, ErrorCode } from '../errors.js'
import { foldOperands, type MergeOperator } from '../merge/merge-operator.js'
import type { InternalIterator } from './internal-iterator.js'
import type { FragmentedTombstones } from './range-tombstones.js'

export type Entry = [key: Buffer, value: Buffer]

/** Resolved bounds: `lower` inclusive unless `lowerExclusive`; `upper` exclusive unless `upperInclusive`. */
export interface IteratorBounds {
  lower?: Buffer
  lowerExclusive?: boolean
  upper?: Buffer
  upperInclusive?: boolean
}

export interface TreeIteratorParts {
  source: InternalIterator
  tombstones: FragmentedTombstones
  seqno: number
  bounds: IteratorBounds
  reverse: boolean
  limit: number
  mergeOperator: MergeOperator | undefined
  onClose: () => void
}

interface Version {
  seqno: number
  kind: number
  value: Buffer
}

export class TreeIterator implements Iterable<Entry>, AsyncIterable<Entry> {
  private readonly it: InternalIterator
  private positioned = false
  private ended = false
  private closed = false
  private count = 0

  constructor(private readonly parts: TreeIteratorParts) {
    this.it = parts.source
  }

  /** The seqno this iterator reads at. */
  get seqno(): number {
    return this.parts.seqno
  }

  next(): Entry | undefined {
    if (this.closed) throw new StrataError(ErrorCode.CLOSED, 'the iterator is closed')
    if (this.ended) return undefined
    if (this.count >= this.parts.limit) return this.end()
    if (!this.positioned) this.position(undefined)
    const entry = this.parts.reverse ? this.stepReverse() : this.stepForward()
    if (entry === undefined) return this.end()
    this.count++
    return entry
  }

  nextv(size: number): Entry[] {
    const out: Entry[] = []
    while (out.length < size) {
      const e = this.next()
      if (e === undefined) break
      out.push(e)
    }
    return out
  }

  /** Every remaining entry; closes the iterator. */
  all(): Entry[] {
    const out: Entry[] = []
    for (let e = this.next(); e !== undefined; e = this.next()) out.push(e)
    this.close()
    return out
  }

  /** Repositions at the first key >= target (forward) or the last key <= target (reverse), within bounds. */
  seek(target: Uint8Array | string): void {
    if (this.closed) throw new StrataError(ErrorCode.CLOSED, 'the iterator is closed')
    this.ended = false
    this.position(Buffer.from(typeof target === 'string' ? Buffer.from(target) : target))
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.ended = true
    this.it.close()
    this.parts.onClose()
  }

  [Symbol.iterator](): Iterator<Entry> {
    return {
      next: (): IteratorResult<Entry> => {
        const e = this.next()
        if (e === undefined) {
          this.close()
          return { done: true, value: undefined }
        }
        return { done: false, value: e }
      },
      return: (): IteratorResult<Entry> => {
        this.close()
        return { done: true, value: undefined }
      },
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Entry> {
    const sync = this[Symbol.iterator]()
    return {
      next: async () => sync.next(),
      return: async () => sync.return!(),
    }
  }

  private end(): undefined {
    this.ended = true
    return undefined
  }

  private position(target: Buffer | undefined): void {
    this.positioned = true
    const { lower, upper, upperInclusive } = this.parts.bounds
    if (!this.parts.reverse) {
      let from = lower
      if (target !== undefined && (from === undefined || compareBytes(target, from) > 0)) from = target
      if (from === undefined) this.it.first()
      else this.it.seekGE(from)
      return
    }
    // Reverse: position at the last entry with key <= min(target, upper bound).
    let until: Buffer | undefined // exclusive
    if (upper !== undefined) until = upperInclusive ? Buffer.concat([upper, Buffer.of(0)]) : upper
    if (target !== undefined) {
      const t = Buffer.concat([target, Buffer.of(0)])
      if (until === undefined || compareBytes(t, until) < 0) until = t
    }
    if (until === undefined) this.it.last()
    else this.it.seekLT(until)
  }

  private belowLower(key: Buffer): boolean {
    const { lower, lowerExclusive } = this.parts.bounds
    if (lower === undefined) return false
    const c = compareBytes(key, lower)
    return lowerExclusive ? c <= 0 : c < 0
  }

  private aboveUpper(key: Buffer): boolean {
    const { upper, upperInclusive } = this.parts.bounds
    if (upper === undefined) return false
    const c = compareBytes(key, upper)
    return upperInclusive ? c > 0 : c >= 0
  }

  private stepForward(): Entry | undefined {
    const it = this.it
    while (it.valid) {
      if (this.aboveUpper(it.key)) return undefined
      const key = Buffer.from(it.key)
      if (this.belowLower(key)) {
        while (it.valid && it.key.equals(key)) it.next()
        continue
      }
      const value = this.resolveForward(key)
      if (value !== undefined) return [key, value]
    }
    return undefined
  }

  /** Consumes every entry of `key` (the iterator is on its first entry) and resolves it. */
  private resolveForward(key: Buffer): Buffer | undefined {
    const it = this.it
    const seqno = this.parts.seqno
    const tomb = this.parts.tombstones.isEmpty ? 0 : this.parts.tombstones.maxCoveringSeqno(key, seqno)
    const operands: Buffer[] = []
    let decided = false
    let result: Buffer | undefined
    for (; it.valid && it.key.equals(key); it.next()) {
      if (decided || it.seqno > seqno) continue
      if (it.seqno < tomb) {
        result = this.fold(key, operands, undefined)
        decided = true
      } else if (it.kind === KeyKind.Put) {
        result = this.fold(key, operands, Buffer.from(it.value))
        decided = true
      } else if (it.kind === KeyKind.Delete) {
        result = this.fold(key, operands, undefined)
        decided = true
      } else if (it.kind === KeyKind.Merge) {
        operands.push(Buffer.from(it.value))
      } else {
        throw new StrataError(ErrorCode.CORRUPTION, `unexpected entry kind ${it.kind} in a scan`)
      }
    }
    return decided ? result : this.fold(key, operands, undefined)
  }

  private stepReverse(): Entry | undefined {
    const it = this.it
    while (it.valid) {
      if (this.belowLower(it.key)) return undefined
      const key = Buffer.from(it.key)
      const versions: Version[] = [] // oldest first
      for (; it.valid && it.key.equals(key); it.prev()) {
        if (it.seqno <= this.parts.seqno) versions.push({ seqno: it.seqno, kind: it.kind, value: Buffer.from(it.value) })
      }
      if (this.aboveUpper(key)) continue
      const value = this.resolveVersions(key, versions)
      if (value !== undefined) return [key, value]
    }
    return undefined
  }

  private resolveVersions(key: Buffer, oldestFirst: Version[]): Buffer | undefined {
    const tomb = this.parts.tombstones.isEmpty ? 0 : this.parts.tombstones.maxCoveringSeqno(key, this.parts.seqno)
    const operands: Buffer[] = []
    for (let i = oldestFirst.length - 1; i >= 0; i--) {
      const v = oldestFirst[i]!
      if (v.seqno < tomb) return this.fold(key, operands, undefined)
      if (v.kind === KeyKind.Put) return this.fold(key, operands, v.value)
      if (v.kind === KeyKind.Delete) return this.fold(key, operands, undefined)
      if (v.kind === KeyKind.Merge) operands.push(v.value)
      else throw new StrataError(ErrorCode.CORRUPTION, `unexpected entry kind ${v.kind} in a scan`)
    }
    return this.fold(key, operands, undefined)
  }

  private fold(key: Buffer, operandsNewestFirst: Buffer[], base: Buffer | undefined): Buffer | undefined {
    if (operandsNewestFirst.length === 0) return base
    const op = this.parts.mergeOperator
    if (!op) throw new StrataError(ErrorCode.NO_MERGE_OPERATOR, 'merge operands found but the tree has no merge operator')
    return foldOperands(op, key, operandsNewestFirst, base)
  }
}
