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

/** User-key bytes after the common prefix that SparseIndex packs into one number (2^48 < 2^53). */
const PREFIX_BYTES = 6

/**
 * The PREFIX_BYTES user-key bytes of a[start, userEnd) from `from` on, zero-padded, as one
 * number: keys in order give numbers in non-decreasing order (a shorter key pads with zeros,
 * which never exceed the longer key's bytes), and a larger number means a larger user key.
 */
function prefixNumber(a: Uint8Array, start: number, userEnd: number, from: number): number {
  let n = 0
  for (let j = 0; j < PREFIX_BYTES; j++) {
    const at = start + from + j
    n = n * 256 + (at < userEnd ? a[at]! : 0)
  }
  return n
}

/**
 * A table's index decoded once at open: for data block i, its last internal key
 * (keys[keyEnds[i - 1], keyEnds[i])) and its handle. Handles were bounds-checked when decoded.
 *
 * find() first narrows by a dense array of numbers (`prefixes`: PREFIX_BYTES user-key bytes of
 * each key after the prefix all the keys share), a binary search over one small typed array
 * instead of over key bytes scattered through `keys`; only keys whose number equals the
 * target's are compared byte by byte.
 */
export class SparseIndex {
  /** User-key bytes every index key starts with (the first key's, cut where another differs). */
  private readonly commonLength: number
  private readonly prefixes: Float64Array

  constructor(
    readonly keys: Buffer,
    /** keyEnds[i] = end of key i in `keys`; key i starts at keyEnds[i - 1] (0 for i = 0). */
    readonly keyEnds: Uint32Array,
    readonly blockOffsets: Float64Array,
    readonly blockSizes: Float64Array,
  ) {
    assert(keyEnds.length === blockOffsets.length && keyEnds.length === blockSizes.length, 'index arrays agree')
    const n = keyEnds.length
    let common = n === 0 ? 0 : keyEnds[0]! - TRAILER_BYTES
    for (let i = 1; i < n && common > 0; i++) {
      const start = keyEnds[i - 1]!
      const userLength = keyEnds[i]! - TRAILER_BYTES - start
      if (userLength < common) common = userLength
      let j = 0
      while (j < common && keys[start + j] === keys[j]) j++
      common = j
    }
    this.commonLength = Math.max(0, common)
    this.prefixes = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      const start = i === 0 ? 0 : keyEnds[i - 1]!
      this.prefixes[i] = prefixNumber(keys, start, keyEnds[i]! - TRAILER_BYTES, this.commonLength)
    }
  }

  get blockCount(): number {
    return this.keyEnds.length
  }

  /** Index of the data block starting at `offset`, or -1 (offsets ascend: binary search). */
  blockAt(offset: number): number {
    const offsets = this.blockOffsets
    let low = 0
    let high = offsets.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (offsets[middle]! < offset) low = middle + 1
      else high = middle
    }
    return low < offsets.length && offsets[low] === offset ? low : -1
  }

  /**
   * The first data block whose last key is at or after the target: the only block that can
   * hold the target's first entry. -1 when every key of the table sorts before the target.
   */
  find(userKey: Uint8Array, seqno: number): number {
    const ends = this.keyEnds
    const n = ends.length
    const common = this.commonLength
    // A target outside the shared prefix sorts before or after every key.
    const keys = this.keys
    for (let j = 0; j < common; j++) {
      if (j >= userKey.length) return n === 0 ? -1 : 0 // a proper prefix of every key
      const a = keys[j]!
      const b = userKey[j]!
      if (a !== b) return a > b ? (n === 0 ? -1 : 0) : -1
    }
    // Blocks [0, low) have a smaller number (last key before the target), blocks [high, n) a
    // larger one (last key after it); between them the numbers equal the target's.
    const target = prefixNumber(userKey, 0, userKey.length, common)
    const prefixes = this.prefixes
    let low = 0
    let high = n
    while (low < high) {
      const middle = (low + high) >>> 1
      if (prefixes[middle]! < target) low = middle + 1
      else high = middle
    }
    let end = n
    high = low
    while (high < end) {
      const middle = (high + end) >>> 1
      if (prefixes[middle]! <= target) high = middle + 1
      else end = middle
    }
    let matchedLow = common // user-key bytes the key before `low` shares with the target
    let matchedHigh = common // and the key at `high`
    while (low < high) {
      const middle = (low + high) >>> 1
      const start = middle === 0 ? 0 : ends[middle - 1]!
      const skip = matchedLow < matchedHigh ? matchedLow : matchedHigh
      if (orderFrom(keys, start, ends[middle]!, userKey, seqno, skip) === Order.Before) {
        low = middle + 1
        matchedLow = matchedBytes
      } else {
        high = middle
        matchedHigh = matchedBytes
      }
    }
    return low === n ? -1 : low
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
 * Describes in `out` the entry just decoded: its trailer at keyBytes[trailerStart, + 8) (the
 * block itself, or the scratch key rebuilt from it), its value at data[valueStart, +
 * headerValueLength). Returns true (found) for the searches' `return`.
 */
function found(out: PointEntry, order: Order, keyBytes: Uint8Array, trailerStart: number, data: Buffer, valueStart: number): true {
  out.sameKey = order === Order.SameKey
  out.seqno = seqnoAt(keyBytes, trailerStart)
  out.kind = keyBytes[trailerStart + TRAILER_BYTES - 1]!
  out.data = data
  out.valueStart = valueStart
  out.valueEnd = valueStart + headerValueLength
  return true
}

/**
 * Finds the first entry of `block` at or after (userKey, seqno) and describes it in `out`.
 * False when every entry of the block sorts before the target (the index said otherwise: the
 * caller falls back to an iterator, which moves on to the next block).
 *
 * The scan never rebuilds keys. It keeps what it knows about the previous entry E: its first
 * `matched` user-key bytes equal the target's and, when `smaller` is set, E's byte at
 * `matched` (inside both user keys) is below the target's. An entry F sharing s bytes with E:
 * - s <= matched: F's first s bytes are the target's and the rest of F's key is in the block,
 *   so F is compared in place from byte s;
 * - s > matched and `smaller`: F's byte at `matched` is E's, below the target's: F sorts
 *   before the target and the same facts hold for F, so F is skipped after its header;
 * - otherwise (E was a proper prefix of the target, or its own user key at a larger seqno), or
 *   when F's trailer is partly shared: the bytes are not at hand, and the restart interval is
 *   scanned again by searchBlockRebuilding, which rebuilds every key.
 */
export function searchBlock(block: Block, userKey: Uint8Array, seqno: number, out: PointEntry): boolean {
  const data = block.data
  const limit = block.restartsOffset
  const restart = restartAt(block, restartBefore(block, userKey, seqno))
  const userLength = userKey.length
  let offset = restart
  let keyLength = 0
  let matched = 0
  let smaller = false
  while (offset < limit) {
    const keyStart = decodeHeader(block, offset)
    const shared = headerShared
    const unshared = headerUnshared
    if (shared > keyLength) throw corrupt(block, 'entry shares more than the previous key', offset)
    const length = shared + unshared
    if (length < TRAILER_BYTES) throw corrupt(block, 'entry key shorter than a trailer', offset)
    if (unshared < TRAILER_BYTES || (shared > matched && !smaller)) {
      return searchBlockRebuilding(block, restart, userKey, seqno, out)
    }
    const valueStart = keyStart + unshared
    keyLength = length
    if (shared <= matched) {
      // The key, as if it started at keyStart - shared: only bytes from `shared` on are read.
      const order = orderFrom(data, keyStart - shared, valueStart, userKey, seqno, shared)
      if (order !== Order.Before) return found(out, order, data, valueStart - TRAILER_BYTES, data, valueStart)
      matched = matchedBytes
      const entryUserLength = length - TRAILER_BYTES
      smaller = matched < entryUserLength && matched < userLength
    }
    offset = valueStart + headerValueLength
  }
  return false
}

/**
 * searchBlock from the restart at `restart`, rebuilding each key in the scratch buffer: for
 * the cases where a key's shared bytes are needed (see searchBlock).
 */
function searchBlockRebuilding(block: Block, restart: number, userKey: Uint8Array, seqno: number, out: PointEntry): boolean {
  const data = block.data
  const limit = block.restartsOffset
  let offset = restart
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
    if (order !== Order.Before) return found(out, order, scratch, keyLength - TRAILER_BYTES, data, valueStart)
    matched = matchedBytes
    offset = valueStart + headerValueLength
  }
  return false
}
