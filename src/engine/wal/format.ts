/**
 * The log framing shared by the write-ahead log and the manifest (LevelDB's log format,
 * leveldb doc/log_format.md). Records are opaque byte strings; this layer only frames them.
 * See docs/format/wal.md for the full specification and the recovery rules.
 *
 * The file is a sequence of 32 KiB blocks (the last one may be partial). A record is cut into
 * one or more chunks; a chunk never crosses a block boundary.
 *
 *   file:   | block 0 (32768 B)          | block 1 (32768 B)          | ... | last block (partial)
 *   block:  | chunk | chunk | ... | chunk | trailer (0..6 zero bytes) |
 *
 *   chunk:
 *   +-----------------+----------------+---------+---------------------------+
 *   | crc u32 LE      | length u16 LE  | type u8 | payload (length bytes)    |
 *   +-----------------+----------------+---------+---------------------------+
 *     0               4                6         7                   7 + length
 *
 *   crc     = maskCrc(crc32c(type byte || payload))            (base/crc32c.ts)
 *   length  = payload bytes, 0..32761; header + payload end inside the chunk's block
 *   type    = ChunkType: FULL = a whole record; FIRST, MIDDLE*, LAST = a record in pieces;
 *             0 is reserved for zero-filled (preallocated) space; 5..255 are invalid
 *   trailer = when fewer than 7 bytes remain in a block, they are zero-filled and the next
 *             chunk starts at the next block
 *
 * There is no magic and no format version: the file's name and number identify a log and this
 * framing is fixed. A chunk type outside 1..4 is never written; reading one is corruption.
 *
 * Invariants:
 * - A writer never leaves fewer than HEADER_BYTES in a block without zero-filling them.
 * - Every block starts with a chunk header (or is past the end of the file).
 * - A record of n bytes occupies framedEnd(start, n) - start bytes of the file.
 */
import { assert } from '../base/assert.js'
import { crc32c, crc32cUpdate, maskCrc } from '../base/crc32c.js'

/** Block size: a reader resynchronizes at block starts; 32 KiB as in LevelDB. */
export const BLOCK_BYTES = 32_768
/** Chunk header: crc u32 + length u16 + type u8. */
export const HEADER_BYTES = 7
/** Largest payload of one chunk: a whole block minus its header. */
export const CHUNK_PAYLOAD_BYTES_MAX = BLOCK_BYTES - HEADER_BYTES
/** A record is built and read back whole in one Buffer; 1 GiB keeps recovery memory sane and
 *  stays far below Node's Buffer limit. Callers (batch, manifest) must bound their records. */
export const RECORD_BYTES_MAX = 1024 * 1024 * 1024

/** DO NOT CHANGE: on disk. */
export const ChunkType = {
  /** Reserved: zero-filled or preallocated space. Never written. */
  Zero: 0,
  Full: 1,
  First: 2,
  Middle: 3,
  Last: 4,
} as const
export type ChunkType = (typeof ChunkType)[keyof typeof ChunkType]

/** Highest valid chunk type; 5..255 are reserved and read as corruption. */
export const CHUNK_TYPE_MAX = ChunkType.Last

assert(HEADER_BYTES === 4 + 2 + 1, 'chunk header is crc u32 + length u16 + type u8')
assert(CHUNK_PAYLOAD_BYTES_MAX <= 0xffff, 'a chunk length must fit its u16 field')
assert(BLOCK_BYTES % 4096 === 0, 'blocks align with pages')

/** crc32c of every one-byte type, precomputed: a chunk's crc extends it over the payload. The
 *  reader also checksums chunks of unknown type, to tell corruption from a torn write. */
const TYPE_CRCS: readonly number[] = Array.from({ length: 256 }, (_, type) =>
  crc32c(Uint8Array.of(type)),
)

/** The masked crc stored in a chunk header: over `type || data[start, end)`; `type` is any
 *  byte value (the reader checks chunks of unknown type too). */
export function chunkChecksum(type: number, data: Uint8Array, start: number, end: number): number {
  assert(Number.isInteger(type) && type >= 0 && type <= 0xff, 'chunk type is a byte')
  assert(start >= 0 && start <= end && end <= data.length, 'chunk payload out of range')
  return maskCrc(crc32cUpdate(TYPE_CRCS[type] as number, data, start, end))
}

/** Bytes before the next block boundary at file offset `fileOffset`. */
export function blockRemainingBytes(fileOffset: number): number {
  return BLOCK_BYTES - (fileOffset % BLOCK_BYTES)
}

/**
 * The file offset at which a record of `recordBytes` bytes ends when its framing starts at
 * `fileOffset` (including any trailer padding before its first chunk). Pure; mirrors the
 * writer's loop exactly, so the writer can size its buffer before writing a byte.
 */
export function framedEnd(fileOffset: number, recordBytes: number): number {
  assert(Number.isSafeInteger(fileOffset) && fileOffset >= 0, 'file offset out of range')
  assert(Number.isInteger(recordBytes) && recordBytes >= 0, 'record length out of range')
  assert(recordBytes <= RECORD_BYTES_MAX, 'record longer than RECORD_BYTES_MAX')
  let position = fileOffset
  let left = recordBytes
  do {
    const remaining = blockRemainingBytes(position)
    if (remaining < HEADER_BYTES) position += remaining
    const fragment = Math.min(left, blockRemainingBytes(position) - HEADER_BYTES)
    position += HEADER_BYTES + fragment
    left -= fragment
  } while (left > 0)
  return position
}
