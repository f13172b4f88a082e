/**
 * The range-del block: a table's range tombstones, fragmented into sorted, non-overlapping
 * pieces, each listing every seqno that covers it (newest first). Private to the sstable layer;
 * the read path's general fragmenter lives in iterator/.
 *
 *   +----------------------+-----------------------------------------------------------+
 *   | fragment count varint| fragment * count                                          |
 *   +----------------------+-----------------------------------------------------------+
 *   fragment = start len varint | start | end len varint | end |
 *              seqno count varint (>= 1) | seqno varint * count (strictly descending)
 *
 * Invariants (asserted on encode, CORRUPTION on decode): start < end; fragments sorted with
 * previous.end <= start; seqnos strictly descending; keys <= KEY_BYTES_MAX.
 */
import { assert } from '../base/assert.js'
import { ByteReader, ByteWriter, DecodeError } from '../base/coding.js'
import { KEY_BYTES_MAX } from '../base/internal-key.js'
import { corruption } from '../errors.js'
import type { RangeTombstone } from '../iterator/internal-iterator.js'

export interface RangeDelFragment {
  start: Buffer
  end: Buffer
  /** Seqnos of the tombstones covering [start, end), strictly descending. */
  seqnos: number[]
}

/** Smallest encoded fragment: empty start, 1-byte end, one 1-byte seqno. */
const FRAGMENT_BYTES_MIN = 5

/**
 * Splits possibly overlapping tombstones at every start and end key, so that each piece is
 * covered by the same set of tombstones; adjacent pieces with equal seqno sets are merged.
 */
export function fragmentTombstones(tombstones: readonly RangeTombstone[]): RangeDelFragment[] {
  if (tombstones.length === 0) return []
  const boundaries = uniqueSorted(tombstones.flatMap((t) => [t.start, t.end]))
  const covering: number[][] = boundaries.map(() => [])
  for (const t of tombstones) {
    assert(Buffer.compare(t.start, t.end) < 0, 'tombstone start < end')
    const last = indexOf(boundaries, t.end)
    for (let i = indexOf(boundaries, t.start); i < last; i++) covering[i]!.push(t.seqno)
  }
  const out: RangeDelFragment[] = []
  for (let i = 0; i + 1 < boundaries.length; i++) {
    const seqnos = [...new Set(covering[i])].sort((a, b) => b - a)
    if (seqnos.length === 0) continue
    const previous = out[out.length - 1]
    const contiguous = previous !== undefined && previous.end.equals(boundaries[i]!)
    if (contiguous && sameSeqnos(previous.seqnos, seqnos)) {
      previous.end = boundaries[i + 1]!
    } else {
      out.push({ start: boundaries[i]!, end: boundaries[i + 1]!, seqnos })
    }
  }
  assert(out.length > 0, 'non-empty input gives fragments')
  return out
}

function uniqueSorted(keys: Buffer[]): Buffer[] {
  const sorted = [...keys].sort(Buffer.compare)
  return sorted.filter((k, i) => i === 0 || Buffer.compare(sorted[i - 1]!, k) !== 0)
}

function indexOf(sorted: readonly Buffer[], key: Buffer): number {
  let lo = 0
  let hi = sorted.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const c = Buffer.compare(sorted[mid]!, key)
    if (c === 0) return mid
    if (c < 0) lo = mid + 1
    else hi = mid - 1
  }
  assert(false, 'boundary key not found')
}

function sameSeqnos(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i])
}

export function encodeRangeDelBlock(fragments: readonly RangeDelFragment[]): Buffer {
  assert(fragments.length > 0, 'no range-del block without tombstones')
  const w = new ByteWriter(64 * fragments.length)
  w.varint(fragments.length)
  let previousEnd: Buffer | undefined
  for (const f of fragments) {
    assert(Buffer.compare(f.start, f.end) < 0, 'fragment start < end')
    assert(previousEnd === undefined || Buffer.compare(previousEnd, f.start) <= 0, 'fragments sorted')
    assert(f.seqnos.length > 0, 'a fragment has seqnos')
    assert(f.seqnos.every((s, i) => i === 0 || f.seqnos[i - 1]! > s), 'seqnos descending')
    w.lengthPrefixed(f.start).lengthPrefixed(f.end).varint(f.seqnos.length)
    for (const s of f.seqnos) w.varint(s)
    previousEnd = f.end
  }
  return w.finish()
}

/** Decodes and validates a range-del block; CORRUPTION naming the file and block offset. */
export function decodeRangeDelBlock(raw: Buffer, fileName: string, blockOffset: number): RangeDelFragment[] {
  try {
    return decodeFragments(raw)
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err
    throw corruption(`bad range-del block: ${err.message}`, fileName, blockOffset, err)
  }
}

function decodeFragments(raw: Buffer): RangeDelFragment[] {
  const r = new ByteReader(raw)
  const count = r.varint()
  if (count < 1 || count > r.remaining / FRAGMENT_BYTES_MIN) {
    throw new DecodeError(`bad fragment count ${count}`, 0)
  }
  const out: RangeDelFragment[] = []
  let previousEnd: Buffer | undefined
  for (let i = 0; i < count; i++) {
    const start = Buffer.from(r.lengthPrefixed(KEY_BYTES_MAX))
    const end = Buffer.from(r.lengthPrefixed(KEY_BYTES_MAX))
    if (Buffer.compare(start, end) >= 0) throw new DecodeError('fragment start >= end', r.pos)
    if (previousEnd !== undefined && Buffer.compare(previousEnd, start) > 0) {
      throw new DecodeError('fragments overlap or are out of order', r.pos)
    }
    const seqnoCount = r.varint()
    if (seqnoCount < 1 || seqnoCount > r.remaining) {
      throw new DecodeError(`bad seqno count ${seqnoCount}`, r.pos)
    }
    const seqnos: number[] = []
    for (let j = 0; j < seqnoCount; j++) {
      const s = r.varint()
      if (j > 0 && s >= seqnos[j - 1]!) throw new DecodeError('fragment seqnos not descending', r.pos)
      seqnos.push(s)
    }
    out.push({ start, end, seqnos })
    previousEnd = end
  }
  if (!r.done) throw new DecodeError('trailing bytes after the fragments', r.pos)
  return out
}
