/**
 * The block pipeline (DESIGN.md): write = encode -> compress -> (encrypt: seam) -> checksum;
 * read = verify checksum FIRST -> (decrypt) -> decompress (bounded).
 *
 * Physical block (what a block handle points at; the handle's size excludes the trailer):
 *
 *   +--------------------------------+---------+-------------------------------------+
 *   | payload (size bytes)           | type u8 | crc32c masked u32 LE                |
 *   |  None: raw block bytes         |         |  over payload || type byte          |
 *   |  Zstd: varint raw len | frame  |         |                                     |
 *   +--------------------------------+---------+-------------------------------------+
 *
 * Invariants:
 * - A block is stored compressed only if that saves at least 1/8 (12.5 %) of its raw size;
 *   otherwise it is stored raw with type None. Decided per block.
 * - decode handles every supported type whatever the codec's own compression option.
 * - Any checksum, type or decompression failure is CORRUPTION naming the file's base name and
 *   the block offset; reserved types (Lz4, ZstdDict) are UNSUPPORTED.
 * - `at` (file number, offset, kind) is the future AES-GCM AAD; it is carried but unused now.
 */
import { assert } from '../base/assert.js'
import { DecodeError } from '../base/coding.js'
import { crc32c, crc32cUpdate, maskCrc } from '../base/crc32c.js'
import { corruption, ErrorCode, StrataError } from '../errors.js'
import { BLOCK_RAW_BYTES_MAX } from '../options.js'
import { BLOCK_TRAILER_BYTES, type BlockKind, CompressionType, isBlockKind } from './block-kind.js'
import { type Compressor, zstdCompressor } from './compression.js'

export interface BlockLocation {
  fileNumber: number
  /** Offset of the block's first payload byte in its file. */
  offset: number
  kind: BlockKind
}

export interface BlockCodec {
  /** raw -> payload + trailer. Returns a fresh buffer (the caller may reuse `raw`). */
  encode(raw: Buffer, at: BlockLocation): Buffer
  /**
   * payload + trailer -> raw. Verifies the checksum before anything else. The result may be a
   * view into `physicalWithTrailer` (type None); it must not be mutated.
   */
  decode(physicalWithTrailer: Buffer, at: BlockLocation, fileName: string): Buffer
}

export interface BlockCodecOptions {
  compression: 'none' | 'zstd'
  zstdLevel?: number
}

/** Compression must shrink a block by at least raw/8 to be kept (leveldb table_builder.cc). */
export const COMPRESSION_MIN_SAVING_DIVISOR = 8

/** True when `compressedBytes` saves at least 12.5 % of `rawBytes`. */
export function compressionWorthIt(rawBytes: number, compressedBytes: number): boolean {
  return compressedBytes < rawBytes - Math.floor(rawBytes / COMPRESSION_MIN_SAVING_DIVISOR)
}

/** Masked crc32c over payload || type: the value stored in the block trailer. */
export function blockChecksum(payload: Uint8Array, type: number): number {
  const typeByte = new Uint8Array([type])
  return maskCrc(crc32cUpdate(crc32c(payload), typeByte))
}

class PipelineCodec implements BlockCodec {
  /** Reader-side zstd contexts, created on the first compressed block. */
  private readZstd: Compressor | undefined

  constructor(private readonly writeCompressor: Compressor | undefined) {
    this.readZstd = writeCompressor
  }

  private get zstd(): Compressor {
    this.readZstd ??= zstdCompressor()
    return this.readZstd
  }

  encode(raw: Buffer, at: BlockLocation): Buffer {
    checkLocation(at)
    assert(raw.length <= BLOCK_RAW_BYTES_MAX, 'raw block over BLOCK_RAW_BYTES_MAX')
    let payload: Buffer = raw
    let type: number = CompressionType.None
    if (this.writeCompressor !== undefined) {
      const compressed = this.writeCompressor.compress(raw)
      if (compressionWorthIt(raw.length, compressed.length)) {
        payload = compressed
        type = this.writeCompressor.type
      }
    }
    // Encryption seam: seal(payload, nonce(at.offset), aad(at)) goes here; the checksum below
    // then covers the ciphertext, so backups and replicas verify without the key.
    const out = Buffer.allocUnsafe(payload.length + BLOCK_TRAILER_BYTES)
    payload.copy(out, 0)
    out[payload.length] = type
    out.writeUInt32LE(maskCrc(crc32c(out, 0, payload.length + 1)), payload.length + 1)
    assert(out.length === payload.length + BLOCK_TRAILER_BYTES, 'physical block layout')
    return out
  }

  decode(physical: Buffer, at: BlockLocation, fileName: string): Buffer {
    checkLocation(at)
    if (physical.length < BLOCK_TRAILER_BYTES) {
      throw corruption('block shorter than its trailer', fileName, at.offset)
    }
    const payloadBytes = physical.length - BLOCK_TRAILER_BYTES
    const stored = physical.readUInt32LE(payloadBytes + 1)
    if (maskCrc(crc32c(physical, 0, payloadBytes + 1)) !== stored) {
      throw corruption('block checksum mismatch', fileName, at.offset)
    }
    const type = physical[payloadBytes] as number
    const payload = physical.subarray(0, payloadBytes)
    switch (type) {
      case CompressionType.None:
        if (payloadBytes > BLOCK_RAW_BYTES_MAX) throw corruption('raw block over bound', fileName, at.offset)
        return payload
      case CompressionType.Zstd:
        return decompressOrCorrupt(this.zstd, payload, fileName, at.offset)
      case CompressionType.Lz4:
      case CompressionType.ZstdDict:
        throw new StrataError(ErrorCode.UNSUPPORTED,
          `block compression type ${type} is reserved and not supported by this build`,
          { file: fileName, offset: at.offset })
      default:
        throw corruption(`unknown block compression type ${type}`, fileName, at.offset)
    }
  }
}

function decompressOrCorrupt(zstd: Compressor, payload: Buffer, fileName: string, offset: number): Buffer {
  try {
    return zstd.decompress(payload, BLOCK_RAW_BYTES_MAX)
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err
    throw corruption(`bad compressed block: ${err.message}`, fileName, offset, err)
  }
}

function checkLocation(at: BlockLocation): void {
  assert(Number.isSafeInteger(at.offset) && at.offset >= 0, 'block offset')
  assert(Number.isSafeInteger(at.fileNumber) && at.fileNumber >= 0, 'file number')
  assert(isBlockKind(at.kind), 'block kind')
}

/** A codec writing with `options.compression`; decode reads every supported type. */
export function createBlockCodec(options: BlockCodecOptions): BlockCodec {
  assert(options.compression === 'none' || options.compression === 'zstd', 'compression name')
  const writeCompressor = options.compression === 'zstd' ? zstdCompressor(options.zstdLevel) : undefined
  return new PipelineCodec(writeCompressor)
}
