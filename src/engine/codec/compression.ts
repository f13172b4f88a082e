/**
 * Block compressors. A compressed block payload is self-describing about its raw size:
 *
 *   +---------------------------+------------------------------------------+
 *   | raw length (varint)       | zstd frame (zstd-napi, one frame)        |
 *   +---------------------------+------------------------------------------+
 *
 * Invariants:
 * - Decompression never allocates more than the stated raw length, and the stated raw length
 *   is checked against a caller-given bound before anything is allocated; the frame must then
 *   produce exactly that many bytes.
 * - Malformed input throws DecodeError; the block codec turns it into CORRUPTION naming the
 *   file and block offset (this module knows neither).
 * - zstd calls are synchronous (zstd-napi), one block at a time.
 */
import { Compressor as ZstdCompressor } from 'zstd-napi'
import binding from 'zstd-napi/binding.js'
import { assert } from '../base/assert.js'
import { ByteReader, DecodeError, putVarint, varintLength } from '../base/coding.js'
import { CompressionType } from './block-kind.js'

/** zstd accepts levels 1..22 (negative "fast" levels are not used by Strata). */
export const ZSTD_LEVEL_MIN = 1
export const ZSTD_LEVEL_MAX = 22
export const ZSTD_LEVEL_DEFAULT = 3

export interface Compressor {
  readonly type: CompressionType
  /** raw -> payload (raw length varint | frame). Always returns a fresh buffer. */
  compress(raw: Buffer): Buffer
  /** payload -> raw. Throws DecodeError if malformed or if the raw length exceeds `rawBytesMax`. */
  decompress(payload: Buffer, rawBytesMax: number): Buffer
}

class ZstdBlockCompressor implements Compressor {
  readonly type = CompressionType.Zstd
  private readonly compressor = new ZstdCompressor()
  private readonly decompressor = new binding.DCtx()

  constructor(readonly level: number) {
    assert(Number.isInteger(level), 'zstd level must be an integer')
    assert(level >= ZSTD_LEVEL_MIN && level <= ZSTD_LEVEL_MAX, 'zstd level out of range')
    // Content size in the frame header is redundant with our varint but lets zstd size its
    // window; no frame checksum: the block trailer's crc32c already covers the bytes.
    this.compressor.setParameters({ compressionLevel: level, checksumFlag: false })
  }

  compress(raw: Buffer): Buffer {
    const frame = this.compressor.compress(raw)
    assert(frame.length > 0, 'zstd produced an empty frame')
    const out = Buffer.allocUnsafe(varintLength(raw.length) + frame.length)
    const at = putVarint(out, 0, raw.length)
    frame.copy(out, at)
    assert(at + frame.length === out.length, 'compressed payload layout')
    return out
  }

  decompress(payload: Buffer, rawBytesMax: number): Buffer {
    assert(rawBytesMax >= 0, 'raw bound must be non-negative')
    const reader = new ByteReader(payload)
    const rawLength = reader.varint()
    if (rawLength > rawBytesMax) {
      throw new DecodeError(`raw length ${rawLength} over bound ${rawBytesMax}`, 0)
    }
    const frame = payload.subarray(reader.pos)
    const raw = Buffer.allocUnsafe(rawLength)
    let produced: number
    try {
      produced = this.decompressor.decompress(raw, frame)
    } catch (err) {
      throw new DecodeError(`zstd: ${(err as Error).message}`, reader.pos)
    }
    if (produced !== rawLength) {
      throw new DecodeError(`zstd produced ${produced} bytes, expected ${rawLength}`, reader.pos)
    }
    return raw
  }
}

/** A zstd compressor at `level` (each instance owns its zstd contexts). */
export function zstdCompressor(level = ZSTD_LEVEL_DEFAULT): Compressor {
  return new ZstdBlockCompressor(level)
}
