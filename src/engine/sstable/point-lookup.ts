/**
 * Point lookups inside one table without iterator objects: a binary search over the decoded
 * index (SparseIndex), then a restart-point binary search and a short forward scan in the data
 * block, both on the block's bytes. Used by TableReader.findPoint for Tree.get; range scans
 * keep using TableIterator.
 *
 * The target is (userKey, seqno): the first entry at or after it in internal order is the
 * newest entry of userKey with seqno <= the read seqno, if userKey has one (entries of a key
 * are ordered seqno descending). An entry sorts before the target iff its user key is smaller,
 * or equal with a larger seqno (the target's kind byte counts as 255, above every real kind,
 * exactly like block.ts's SEEK_KIND).
 *
 * Invariants:
 * - Nothing here allocates per lookup: results go into a caller-owned PointEntry, the key
 *   being rebuilt lives in one module scratch buffer (lookups are synchronous and never
 *   reenter), and comparisons are JS byte loops (a native Buffer.compare call costs ~110 ns
 *   on Node 20 against ~20 ns for the loop over a 16-byte key; docs/memtable.md).
 * - Every length read from a block is bounds-checked exactly as BlockIterator does; a failure
 *   is CORRUPTION naming the file and the block offset, never a wrong answer.
 */
import { assert } from '../base/assert.js'
import { TRAILER_BYTES } from '../base/internal-key.js'
import { corruption, type StrataError } from '../errors.js'
import type { Block } from './block.js'

/** Where the first entry at or after a point target landed (filled by searchBlock). */
export class PointEntry {
  /** True when the entry's user key equals the target's. */
  sameKey = false
  seqno = 0
  kind = 0
  /** The block holding the value, and the value's byte range in it. */
  data: Buffer = EMPTY
  valueStart = 0
  valueEnd = 0
}

const EMPTY = Buffer.alloc(0)
const TWO_24 = 0x100_0000

/** Seqno stored big-endian in the 7 bytes at `at` (56 bits; exact up to 2^53). */
function seqnoAt(data: Uint8Array, at: number): number {
  const high = ((data[at]! << 24) | (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!) >>> 0
  return high * TWO_24 + ((data[at + 4]! << 16) | (data[at + 5]! << 8) | data[at + 6]!)
}

/** Relation of an encoded internal key to the point target (userKey, seqno). */
export const Order = {
  /** The entry sorts before the target. */
  Before: -1,
  /** The entry is the target's user key with seqno <= the target's: at or after it. */
  SameKey: 0,
  /** The entry's user key is greater: after the target. */
  After: 1,
} as const
export type Order = (typeof Order)[keyof typeof Order]

/**
 * Where a[start, end) (an encoded internal key, end - start >= TRAILER_BYTES) sorts against
 * the target (userKey, seqno).
 */
export function orderAgainst(a: Uint8Array, start: number, end: number, userKey: Uint8Array, seqno: number): Order {
  return orderFrom(a, start, end, userKey, seqno, 0)
}

/** Bytes of the target's user key matched by the last orderFrom call (its mismatch position). */
let matchedBytes = 0

/**
 * orderAgainst, told that the first `skip` user-key bytes are already known to be equal.
 * Sets matchedBytes. In a binary search over sorted keys, every key between two keys that
 * share a prefix with the target shares it too, so the search skips min(matched at its low
 * bound, matched at its high bound) bytes: with 16-byte keys that all start "0000000000",
 * most steps compare one or two bytes instead of sixteen.
 */
function orderFrom(a: Uint8Array, start: number, end: number, userKey: Uint8Array, seqno: number, skip: number): Order {
  const userEnd = end - TRAILER_BYTES
  const aLength = userEnd - start
  const common = aLength < userKey.length ? aLength : userKey.length
  let i = skip < common ? skip : common
  while (i < common && a[start + i] === userKey[i]) i++
  matchedBytes = i
  if (i < common) return a[start + i]! < userKey[i]! ? Order.Before : Order.After
  if (aLength !== userKey.length) return aLength < userKey.length ? Order.Before : Order.After
  return seqnoAt(a, userEnd) > seqno ? Order.Before : Order.SameKey
}

/**
 * A table's index decoded once at open: for data block i, its last internal key
 * (keys[keyEnds[i - 1], keyEnds[i])) and its handle. Handles were bounds-checked when decoded.
 */
export class SparseIndex {
  constructor(
    readonly keys: Buffer,
    /** keyEnds[i] = end of key i in `keys`; key i starts at keyEnds[i - 1] (0 for i = 0). */
    readonly keyEnds: Uint32Array,
    readonly blockOffsets: Float64Array,
    readonly blockSizes: Float64Array,
  ) {
    assert(keyEnds.length === blockOffsets.length && keyEnds.length === blockSizes.length, 'index arrays agree')
  }

  get blockCount(): number {
    return this.keyEnds.length
  }

  /**
   * The first data block whose last key is at or after the target: the only block that can
   * hold the target's first entry. -1 when every key of the table sorts before the target.
   */
  find(userKey: Uint8Array, seqno: number): number {
    const ends = this.keyEnds
    let low = 0
    let high = ends.length
    let matchedLow = 0 // user-key bytes the key before `low` shares with the target
    let matchedHigh = 0 // and the key at `high`
    while (low < high) {
      const middle = (low + high) >>> 1
      const start = middle === 0 ? 0 : ends[middle - 1]!
      const skip = matchedLow < matchedHigh ? matchedLow : matchedHigh
      if (orderFrom(this.keys, start, ends[middle]!, userKey, seqno, skip) === Order.Before) {
        low = middle + 1
        matchedLow = matchedBytes
      } else {
        high = middle
        matchedHigh = matchedBytes
      }
    }
    return low === ends.length ? -1 : low
  }
}

/** Key of the entry being decoded; grown on demand (keys are at most 64 KiB + trailer). */
let scratch = Buffer.alloc(256)
/** Entry header of the last decodeHeader call. */
let headerShared = 0
let headerUnshared = 0
let headerValueLength = 0

function corrupt(block: Block, message: string, entryOffset: number): StrataError {
  return corruption(`${message} (entry at ${entryOffset})`, block.fileName, block.blockOffset)
}

/** Decodes the three varints at `offset` into the header scalars; returns the key start. */
function decodeHeader(block: Block, offset: number): number {
  const data = block.data
  const limit = block.restartsOffset
  let p = offset
  if (p + 3 <= limit && (data[p]! | data[p + 1]! | data[p + 2]!) < 0x80) {
    headerShared = data[p]!
    headerUnshared = data[p + 1]!
    headerValueLength = data[p + 2]!
    p += 3
  } else {
    for (let field = 0; field < 3; field++) {
      let value = 0
      let factor = 1
      for (let n = 0; ; n++) {
        if (p >= limit || n >= 5) throw corrupt(block, 'truncated or overlong entry header', offset)
        const b = data[p++]!
        value += (b & 0x7f) * factor
        if (b < 0x80) break
        factor *= 128
      }
      if (field === 0) headerShared = value
      else if (field === 1) headerUnshared = value
      else headerValueLength = value
    }
  }
  if (headerUnshared + headerValueLength > limit - p) throw corrupt(block, 'entry overruns the block', offset)
  return p
}

function restartAt(block: Block, index: number): number {
  const data = block.data
  const at = block.restartsOffset + 4 * index
  return (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24)) >>> 0
}

/** Largest restart index whose key sorts before the target (0 if none). */
function restartBefore(block: Block, userKey: Uint8Array, seqno: number): number {
  let left = 0
  let right = block.restartCount - 1
  let matchedLeft = 0 // see orderFrom: bytes shared with the target by the keys at the bounds
  let matchedRight = 0
  while (left < right) {
    const middle = (left + right + 1) >>> 1
    const at = restartAt(block, middle)
    const keyStart = decodeHeader(block, at)
    if (headerShared !== 0) throw corrupt(block, 'restart entry shares a prefix', at)
    if (headerUnshared < TRAILER_BYTES) throw corrupt(block, 'entry key shorter than a trailer', at)
    const skip = matchedLeft < matchedRight ? matchedLeft : matchedRight
    const order = orderFrom(block.data, keyStart, keyStart + headerUnshared, userKey, seqno, skip)
    if (order === Order.Before) {
      left = middle
      matchedLeft = matchedBytes
    } else {
      right = middle - 1
      matchedRight = matchedBytes
    }
  }
  return left
}

/**
 * Finds the first entry of `block` at or after (userKey, seqno) and describes it in `out`.
 * False when every entry of the block sorts before the target (the index said otherwise: the
 * caller falls back to an iterator, which moves on to the next block).
 */
export function searchBlock(block: Block, userKey: Uint8Array, seqno: number, out: PointEntry): boolean {
  const data = block.data
  const limit = block.restartsOffset
  let offset = restartAt(block, restartBefore(block, userKey, seqno))
  let keyLength = 0
  // User-key bytes the previous entry shares with the target. An entry's first `shared` bytes
  // are the previous entry's, so min(shared, matched) of them are known to match.
  let matched = 0
  while (offset < limit) {
    const keyStart = decodeHeader(block, offset)
    const shared = headerShared
    if (shared > keyLength) throw corrupt(block, 'entry shares more than the previous key', offset)
    const length = shared + headerUnshared
    if (length < TRAILER_BYTES) throw corrupt(block, 'entry key shorter than a trailer', offset)
    if (length > scratch.length) {
      const grown = Buffer.alloc(Math.max(length, 2 * scratch.length))
      scratch.copy(grown, 0, 0, shared)
      scratch = grown
    }
    for (let i = 0; i < headerUnshared; i++) scratch[shared + i] = data[keyStart + i]!
    keyLength = length
    const valueStart = keyStart + headerUnshared
    const order = orderFrom(scratch, 0, keyLength, userKey, seqno, shared < matched ? shared : matched)
    if (order !== Order.Before) {
      out.sameKey = order === Order.SameKey
      out.seqno = seqnoAt(scratch, keyLength - TRAILER_BYTES)
      out.kind = scratch[keyLength - 1]!
      out.data = data
      out.valueStart = valueStart
      out.valueEnd = valueStart + headerValueLength
      return true
    }
    matched = matchedBytes
    offset = valueStart + headerValueLength
  }
  return false
}
