/**
 * Block and BlockIterator: a decoded data or index block (format in block-builder.ts) and a
 * synchronous cursor over it (leveldb table/block.cc shape: binary search on restart points,
 * prev() by rescanning from the previous restart point).
 *
 * Invariants:
 * - Block.parse validates the restart array against the block length before any use: count
 *   >= 1 and bounded by the length, restarts[0] = 0, offsets strictly increasing and inside
 *   the entry region. Entries are bounds-checked as they are decoded. Any failure is
 *   CORRUPTION naming the file and the block's offset.
 * - Seeks compare in place (no allocation per comparison): user-key bytes with Buffer#compare
 *   ranges, then the 8-byte trailer bytewise REVERSED (big-endian seqno and kind both order
 *   descending, so a larger trailer sorts first).
 * - `key` and `value` are views valid until the next positioning call.
 */
import { assert } from '../base/assert.js'
import { MAX_SEQNO, TRAILER_BYTES, type KeyKind } from '../base/internal-key.js'
import { corruption, type StrataError } from '../errors.js'
import { Order, orderAgainst } from './point-lookup.js'

/** Kind used in seek targets: larger than every real kind, so a (key, seqno) target sorts
 *  before every entry of that key and seqno, whatever its kind. */
export const SEEK_KIND = 255 as KeyKind

export class Block {
  private constructor(
    readonly data: Buffer,
    /** End of the entry region = offset of the restart array. */
    readonly restartsOffset: number,
    readonly restartCount: number,
    readonly fileName: string,
    readonly blockOffset: number,
  ) {}

  /** Validates the restart array of `data` (the decoded block at `blockOffset` of `fileName`). */
  static parse(data: Buffer, fileName: string, blockOffset: number): Block {
    if (data.length < 4) throw corruption('block too short for its restart count', fileName, blockOffset)
    const restartCount = data.readUInt32LE(data.length - 4)
    const restartsMax = Math.floor((data.length - 4) / 4)
    if (restartCount < 1 || restartCount > restartsMax) {
      throw corruption(`bad restart count ${restartCount}`, fileName, blockOffset)
    }
    const restartsOffset = data.length - 4 - 4 * restartCount
    let previous = -1
    for (let i = 0; i < restartCount; i++) {
      const r = data.readUInt32LE(restartsOffset + 4 * i)
      const inside = r < restartsOffset || (restartsOffset === 0 && restartCount === 1)
      if ((i === 0 && r !== 0) || r <= previous || !inside) {
        throw corruption(`bad restart offset ${r}`, fileName, blockOffset)
      }
      previous = r
    }
    assert(restartsOffset >= 0, 'restart region inside the block')
    return new Block(data, restartsOffset, restartCount, fileName, blockOffset)
  }

  get isEmpty(): boolean {
    return this.restartsOffset === 0
  }

  restartPoint(index: number): number {
    assert(index >= 0 && index < this.restartCount, 'restart index')
    return this.data.readUInt32LE(this.restartsOffset + 4 * index)
  }

  newIterator(): BlockIterator {
    return new BlockIterator(this)
  }
}

export class BlockIterator {
  private readonly data: Buffer
  private readonly limit: number
  /** Offset of the current entry; === limit when not valid. */
  private current: number
  /** Offset just past the current entry. */
  private nextOffset: number
  /** Index of the restart block holding `current`. */
  private restartIndex: number
  private keyBuffer: Buffer = Buffer.alloc(64)
  private keyLength = 0
  private valueStart = 0
  private valueEnd = 0
  private readonly targetTrailer = Buffer.alloc(TRAILER_BYTES)
  /** Scratch written by decodeHeader. */
  private shared = 0
  private unshared = 0
  private valueLength = 0

  constructor(readonly block: Block) {
    this.data = block.data
    this.limit = block.restartsOffset
    this.current = this.limit
    this.nextOffset = this.limit
    this.restartIndex = block.restartCount
  }

  get valid(): boolean {
    return this.current < this.limit
  }

  /** Encoded internal key of the current entry. Requires: valid. */
  get key(): Buffer {
    assert(this.valid, 'key() requires a valid iterator')
    return this.keyBuffer.subarray(0, this.keyLength)
  }

  get value(): Buffer {
    assert(this.valid, 'value() requires a valid iterator')
    return this.data.subarray(this.valueStart, this.valueEnd)
  }

  first(): void {
    this.seekToRestartPoint(0)
    this.parseNext()
  }

  last(): void {
    this.seekToRestartPoint(this.block.restartCount - 1)
    while (this.parseNext() && this.nextOffset < this.limit) {
      // keep scanning to the last entry
    }
  }

  next(): void {
    assert(this.valid, 'next() requires a valid iterator')
    this.parseNext()
  }

  prev(): void {
    assert(this.valid, 'prev() requires a valid iterator')
    const original = this.current
    while (this.block.restartPoint(this.restartIndex) >= original) {
      if (this.restartIndex === 0) {
        this.invalidate()
        return
      }
      this.restartIndex--
    }
    this.seekToRestartPoint(this.restartIndex)
    while (this.parseNext() && this.nextOffset < original) {
      // advance to the entry just before `original`
    }
  }

  /** Positions at the entry of restart point `index` (every entry, in an index block). */
  seekToRestart(index: number): void {
    assert(index >= 0 && index < this.block.restartCount, 'restart index')
    this.seekToRestartPoint(index)
    this.parseNext()
  }

  /** Positions past the last entry (not valid). */
  seekToEnd(): void {
    this.invalidate()
  }

  /**
   * Positions at the first entry >= target in internal order. The target is an encoded
   * internal key, or a user key plus a seqno (then the target sorts before every entry of
   * that user key and seqno).
   */
  seekGE(internalKey: Uint8Array): void
  seekGE(userKey: Uint8Array, seqno: number): void
  seekGE(target: Uint8Array, seqno?: number): void {
    let userKey: Uint8Array
    if (seqno === undefined) {
      assert(target.length >= TRAILER_BYTES, 'seek target is not an internal key')
      userKey = target.subarray(0, target.length - TRAILER_BYTES)
      this.targetTrailer.set(target.subarray(target.length - TRAILER_BYTES))
    } else {
      assert(Number.isSafeInteger(seqno) && seqno >= 0 && seqno <= MAX_SEQNO, 'seek seqno')
      // (user key, seqno): compared by JS byte loops (point-lookup.ts), no native call per key.
      this.seekToRestartPoint(this.findRestartBeforePoint(target, seqno))
      while (this.parseNext()) {
        if (orderAgainst(this.keyBuffer, 0, this.keyLength, target, seqno) !== Order.Before) return
      }
      return
    }
    this.seekToRestartPoint(this.findRestartBefore(userKey))
    while (this.parseNext()) {
      const c = compareInternal(this.keyBuffer, 0, this.keyLength, userKey, this.targetTrailer)
      if (c >= 0) return
    }
  }

  /**
   * Where the key of restart point `index` starts (its length is `this.unshared`), checked: a
   * restart entry shares nothing with the entry before it and holds a whole trailer.
   */
  private restartKey(index: number): number {
    const at = this.block.restartPoint(index)
    const keyStart = this.decodeHeader(at)
    if (this.shared !== 0) throw this.corrupt('restart entry shares a prefix', at)
    if (this.unshared < TRAILER_BYTES) throw this.corrupt('entry key shorter than a trailer', at)
    return keyStart
  }

  /** findRestartBefore for a (user key, seqno) target. */
  private findRestartBeforePoint(userKey: Uint8Array, seqno: number): number {
    let left = 0
    let right = this.block.restartCount - 1
    while (left < right) {
      const mid = (left + right + 1) >>> 1
      const keyStart = this.restartKey(mid)
      if (orderAgainst(this.data, keyStart, keyStart + this.unshared, userKey, seqno) === Order.Before) left = mid
      else right = mid - 1
    }
    return left
  }

  /** Largest restart index whose key is < target (0 if none). */
  private findRestartBefore(userKey: Uint8Array): number {
    let left = 0
    let right = this.block.restartCount - 1
    while (left < right) {
      const mid = (left + right + 1) >>> 1
      const keyStart = this.restartKey(mid)
      const c = compareInternal(this.data, keyStart, keyStart + this.unshared, userKey, this.targetTrailer)
      if (c < 0) left = mid
      else right = mid - 1
    }
    return left
  }

  private seekToRestartPoint(index: number): void {
    this.keyLength = 0
    this.restartIndex = index
    const offset = this.block.restartPoint(index)
    this.current = offset
    this.nextOffset = offset
  }

  /** Decodes the entry at nextOffset into the cursor; false (and invalid) at the end. */
  private parseNext(): boolean {
    this.current = this.nextOffset
    if (this.current >= this.limit) {
      this.invalidate()
      return false
    }
    const keyStart = this.decodeHeader(this.current)
    if (this.shared > this.keyLength) throw this.corrupt('entry shares more than the previous key', this.current)
    const keyLength = this.shared + this.unshared
    if (keyLength < TRAILER_BYTES) throw this.corrupt('entry key shorter than a trailer', this.current)
    if (keyLength > this.keyBuffer.length) {
      const grown = Buffer.alloc(Math.max(keyLength, 2 * this.keyBuffer.length))
      this.keyBuffer.copy(grown, 0, 0, this.shared)
      this.keyBuffer = grown
    }
    this.data.copy(this.keyBuffer, this.shared, keyStart, keyStart + this.unshared)
    this.keyLength = keyLength
    this.valueStart = keyStart + this.unshared
    this.valueEnd = this.valueStart + this.valueLength
    this.nextOffset = this.valueEnd
    while (this.restartIndex + 1 < this.block.restartCount &&
           this.block.restartPoint(this.restartIndex + 1) <= this.current) {
      this.restartIndex++
    }
    return true
  }

  /** Reads the three varints at `offset`; returns the key-delta offset. Bounds-checked. */
  private decodeHeader(offset: number): number {
    let p = offset
    const data = this.data
    const limit = this.limit
    // Fast path (leveldb DecodeEntry): all three lengths fit one byte each.
    if (p + 3 <= limit && (data[p]! | data[p + 1]! | data[p + 2]!) < 0x80) {
      this.shared = data[p]!
      this.unshared = data[p + 1]!
      this.valueLength = data[p + 2]!
      p += 3
    } else {
      const values = [0, 0, 0]
      for (let i = 0; i < 3; i++) {
        let result = 0
        let factor = 1
        for (let n = 0; ; n++) {
          if (p >= limit || n >= 5) throw this.corrupt('truncated or overlong entry header', offset)
          const b = data[p++]!
          result += (b & 0x7f) * factor
          if (b < 0x80) break
          factor *= 128
        }
        values[i] = result
      }
      this.shared = values[0]!
      this.unshared = values[1]!
      this.valueLength = values[2]!
    }
    if (this.unshared + this.valueLength > limit - p) throw this.corrupt('entry overruns the block', offset)
    return p
  }

  private invalidate(): void {
    this.current = this.limit
    this.nextOffset = this.limit
    this.restartIndex = this.block.restartCount
    this.keyLength = 0
  }

  private corrupt(message: string, entryOffset: number): StrataError {
    this.invalidate()
    return corruption(`${message} (entry at ${entryOffset})`, this.block.fileName, this.block.blockOffset)
  }
}

/**
 * Internal-key order of a[aStart, aEnd) (an encoded internal key) against (userKey, trailer):
 * user key ascending, then trailer bytes descending. Allocation-free.
 */
export function compareInternal(
  a: Buffer, aStart: number, aEnd: number, userKey: Uint8Array, trailer: Uint8Array,
): number {
  const userEnd = aEnd - TRAILER_BYTES
  const c = a.compare(userKey, 0, userKey.length, aStart, userEnd)
  if (c !== 0) return c
  return -a.compare(trailer, 0, TRAILER_BYTES, userEnd, aEnd)
}
