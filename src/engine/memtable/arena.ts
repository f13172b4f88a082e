/**
 * Arena: the memtable's key and value bytes, copied into large slabs and addressed by a
 * number (leveldb util/arena.cc, for the same reason). Keeping each key and value as its own
 * Buffer cost two JS objects (~100 B of heap each) per entry, and the write path's small
 * Buffers are cut from Node's shared 8 KiB pool slabs, so a long-lived key kept alive a slab
 * also filled with short-lived garbage: 241 B of slab per 116-byte entry, 494 B in all with
 * the objects (docs/memtable.md). Here an entry costs its bytes plus a 6-byte header, and one
 * number in the B+tree (169 B in all for the same entry).
 *
 * Record layout (in memory only, never on disk):
 *
 *   +------------------+--------------------+-----------+-------------+
 *   | key length u16LE | value length u32LE | key bytes | value bytes |
 *   +------------------+--------------------+-----------+-------------+
 *
 * A record's reference is slabIndex * SLAB_STRIDE + offset of its header in the slab.
 *
 * Invariants:
 * - Records never move and are never freed: the arena only grows, until the memtable is
 *   dropped whole (after its flush), which frees every slab at once.
 * - Slabs double from SLAB_BYTES_MIN to SLAB_BYTES_MAX, so a small memtable (tests, many
 *   trees) does not reserve a megabyte; a record larger than LARGE_RECORD_BYTES gets a slab of
 *   its own, so the space left unused at the end of a slab stays under 1/8 of it.
 * - Every offset inside a slab is < SLAB_STRIDE, so references are unique.
 */
import { assert } from '../base/assert.js'
import { KEY_BYTES_MAX } from '../base/internal-key.js'

export const RECORD_HEADER_BYTES = 6
export const SLAB_BYTES_MIN = 4 * 1024
export const SLAB_BYTES_MAX = 1024 * 1024
/** Records above this size get a slab of their own. */
export const LARGE_RECORD_BYTES = SLAB_BYTES_MAX / 8
/** Multiplier of the slab index in a reference; > every offset inside a shared slab. */
export const SLAB_STRIDE = SLAB_BYTES_MAX

assert(SLAB_BYTES_MIN <= SLAB_BYTES_MAX && SLAB_STRIDE >= SLAB_BYTES_MAX, 'slab sizes')
assert(LARGE_RECORD_BYTES + RECORD_HEADER_BYTES <= SLAB_BYTES_MAX, 'a small record fits an empty slab')
assert(KEY_BYTES_MAX <= 0xffff, 'key lengths fit the u16 header field')

export class Arena {
  readonly #slabs: Buffer[] = []
  /** The slab records are appended to, and the first free byte in it. */
  #current: Buffer | undefined = undefined
  #currentIndex = -1
  #used = 0
  #nextSlabBytes = SLAB_BYTES_MIN
  #recordBytes = 0
  #reservedBytes = 0

  /** Header, key and value bytes of every record appended. */
  get recordBytes(): number {
    return this.#recordBytes
  }

  /** Bytes of every slab allocated (what the arena really holds). */
  get reservedBytes(): number {
    return this.#reservedBytes
  }

  /** Copies key and value into the arena; returns the record's reference. */
  append(key: Uint8Array, value: Uint8Array): number {
    assert(key.length <= KEY_BYTES_MAX, 'key longer than KEY_BYTES_MAX')
    assert(value.length <= 0xffff_ffff, 'value length fits u32')
    const bytes = RECORD_HEADER_BYTES + key.length + value.length
    let slab: Buffer
    let slabIndex: number
    let at: number
    if (bytes > LARGE_RECORD_BYTES) {
      slab = this.#newSlab(bytes)
      slabIndex = this.#slabs.length - 1
      at = 0
    } else {
      if (this.#current === undefined || this.#used + bytes > this.#current.length) {
        this.#current = this.#newSlab(Math.max(this.#nextSlabBytes, bytes))
        this.#currentIndex = this.#slabs.length - 1
        this.#used = 0
        this.#nextSlabBytes = Math.min(SLAB_BYTES_MAX, 2 * this.#nextSlabBytes)
      }
      slab = this.#current
      slabIndex = this.#currentIndex
      at = this.#used
      this.#used += bytes
    }
    slab[at] = key.length & 0xff
    slab[at + 1] = key.length >>> 8
    slab.writeUInt32LE(value.length, at + 2)
    slab.set(key, at + RECORD_HEADER_BYTES)
    slab.set(value, at + RECORD_HEADER_BYTES + key.length)
    this.#recordBytes += bytes
    return slabIndex * SLAB_STRIDE + at
  }

  /** The slab holding record `ref`. */
  slab(ref: number): Buffer {
    return this.#slabs[Math.floor(ref / SLAB_STRIDE)]!
  }

  /** Offset of record `ref`'s header in its slab. */
  offset(ref: number): number {
    return ref % SLAB_STRIDE
  }

  /** A view of record `ref`'s key (allocates the view). */
  key(ref: number): Buffer {
    const slab = this.slab(ref)
    const at = ref % SLAB_STRIDE
    const start = at + RECORD_HEADER_BYTES
    return slab.subarray(start, start + keyLengthAt(slab, at))
  }

  /** A view of record `ref`'s value (allocates the view). */
  value(ref: number): Buffer {
    const slab = this.slab(ref)
    const at = ref % SLAB_STRIDE
    const start = at + RECORD_HEADER_BYTES + keyLengthAt(slab, at)
    return slab.subarray(start, start + valueLengthAt(slab, at))
  }

  /**
   * Bytewise order of record `ref`'s key against `key` (the sign of Buffer.compare). A JS
   * loop: keys are short, and a native compare call costs more than the loop (bytes.ts).
   */
  compareKey(ref: number, key: Uint8Array): number {
    const slab = this.#slabs[Math.floor(ref / SLAB_STRIDE)]!
    const at = ref % SLAB_STRIDE
    const length = keyLengthAt(slab, at)
    const start = at + RECORD_HEADER_BYTES
    const common = length < key.length ? length : key.length
    for (let i = 0; i < common; i++) {
      const d = slab[start + i]! - key[i]!
      if (d !== 0) return d
    }
    return length - key.length
  }

  #newSlab(bytes: number): Buffer {
    // allocUnsafeSlow: a store of its own, never a slice of Node's shared pool.
    const slab = Buffer.allocUnsafeSlow(bytes)
    this.#slabs.push(slab)
    this.#reservedBytes += bytes
    return slab
  }
}

export function keyLengthAt(slab: Buffer, at: number): number {
  return slab[at]! | (slab[at + 1]! << 8)
}

export function valueLengthAt(slab: Buffer, at: number): number {
  return (slab[at + 2]! | (slab[at + 3]! << 8) | (slab[at + 4]! << 16)) + slab[at + 5]! * 0x100_0000
}
