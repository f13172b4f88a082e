/**
 * Integer encodings shared by every on-disk format: LEB128 varints (up to 2^53 - 1, the JS
 * safe range) and fixed-width little-endian integers. 64-bit fixed values are written as two
 * u32 halves so that the hot paths never touch BigInt.
 *
 * `ByteReader` is the only way formats decode bytes: every read is bounds-checked and a short
 * or malformed input throws `DecodeError`, which the caller turns into a CORRUPTION error that
 * names the file.
 */
import { assert } from './assert.js'

export class DecodeError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message)
    this.name = 'DecodeError'
  }
}

const TWO_32 = 0x1_0000_0000

/** Bytes a varint of `value` takes. */
export function varintLength(value: number): number {
  assert(Number.isSafeInteger(value) && value >= 0, 'varint must be a non-negative safe integer')
  let n = 1
  while (value >= 0x80) {
    value = Math.floor(value / 128)
    n++
  }
  return n
}

/** Writes a varint at `offset`; returns the offset after it. */
export function putVarint(buf: Uint8Array, offset: number, value: number): number {
  assert(Number.isSafeInteger(value) && value >= 0, 'varint must be a non-negative safe integer')
  while (value >= 0x80) {
    buf[offset++] = (value & 0x7f) | 0x80
    value = Math.floor(value / 128)
  }
  buf[offset++] = value
  return offset
}

export function writeFixed64(buf: Buffer, offset: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, 'fixed64 must be a non-negative safe integer')
  buf.writeUInt32LE(value % TWO_32, offset)
  buf.writeUInt32LE(Math.floor(value / TWO_32), offset + 4)
}

export function readFixed64(buf: Buffer, offset: number): number {
  const lo = buf.readUInt32LE(offset)
  const hi = buf.readUInt32LE(offset + 4)
  if (hi > 0x1f_ffff) throw new DecodeError('fixed64 value beyond 2^53', offset)
  return hi * TWO_32 + lo
}

/** Growable buffer writer. `finish()` returns a view of exactly the bytes written. */
export class ByteWriter {
  private buf: Buffer
  private pos = 0

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialBytes))
  }

  get length(): number {
    return this.pos
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  u8(value: number): this {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xff, 'u8 out of range')
    this.reserve(1)
    this.buf[this.pos++] = value
    return this
  }

  u16(value: number): this {
    this.reserve(2)
    this.buf.writeUInt16LE(value, this.pos)
    this.pos += 2
    return this
  }

  u32(value: number): this {
    this.reserve(4)
    this.buf.writeUInt32LE(value, this.pos)
    this.pos += 4
    return this
  }

  u64(value: number): this {
    this.reserve(8)
    writeFixed64(this.buf, this.pos, value)
    this.pos += 8
    return this
  }

  varint(value: number): this {
    this.reserve(10)
    this.pos = putVarint(this.buf, this.pos, value)
    return this
  }

  bytes(data: Uint8Array): this {
    this.reserve(data.length)
    this.buf.set(data, this.pos)
    this.pos += data.length
    return this
  }

  /** varint length followed by the bytes. */
  lengthPrefixed(data: Uint8Array): this {
    return this.varint(data.length).bytes(data)
  }

  string(value: string): this {
    return this.lengthPrefixed(Buffer.from(value, 'utf8'))
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos)
  }
}

/** Bounds-checked reader over a buffer; throws DecodeError on any overrun or malformed varint. */
export class ByteReader {
  pos: number

  constructor(readonly buf: Buffer, start = 0, readonly end = buf.length) {
    assert(end <= buf.length && start <= end, 'reader bounds')
    this.pos = start
  }

  get remaining(): number {
    return this.end - this.pos
  }

  get done(): boolean {
    return this.pos >= this.end
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new DecodeError(`need ${n} bytes, ${this.end - this.pos} left`, this.pos)
    }
  }

  u8(): number {
    this.need(1)
    return this.buf[this.pos++] as number
  }

  u16(): number {
    this.need(2)
    const v = this.buf.readUInt16LE(this.pos)
    this.pos += 2
    return v
  }

  u32(): number {
    this.need(4)
    const v = this.buf.readUInt32LE(this.pos)
    this.pos += 4
    return v
  }

  u64(): number {
    this.need(8)
    const v = readFixed64(this.buf, this.pos)
    this.pos += 8
    return v
  }

  varint(): number {
    let result = 0
    let factor = 1
    for (let i = 0; i < 8; i++) {
      this.need(1)
      const b = this.buf[this.pos++] as number
      result += (b & 0x7f) * factor
      if (b < 0x80) {
        if (!Number.isSafeInteger(result)) throw new DecodeError('varint beyond 2^53', this.pos)
        return result
      }
      factor *= 128
    }
    throw new DecodeError('varint too long', this.pos)
  }

  /** A view (not a copy) of the next `n` bytes. */
  bytes(n: number): Buffer {
    this.need(n)
    const v = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return v
  }

  lengthPrefixed(maxBytes = 0x7fff_ffff): Buffer {
    const n = this.varint()
    if (n > maxBytes) throw new DecodeError(`length ${n} over bound ${maxBytes}`, this.pos)
    return this.bytes(n)
  }

  string(maxBytes = 1 << 20): string {
    return this.lengthPrefixed(maxBytes).toString('utf8')
  }
}
