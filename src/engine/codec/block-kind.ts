/**
 * On-disk identifiers of the block pipeline: what a block holds (BlockKind) and how its payload
 * is compressed (CompressionType, the first byte of every block trailer).
 *
 * Invariants:
 * - Values never change once written: CompressionType is stored in every block trailer, and
 *   BlockKind will be bound into the AES-GCM additional data (DESIGN.md), so renumbering either
 *   would make existing files unreadable.
 * - Reserved values are refused on read with UNSUPPORTED (a newer writer), unknown values with
 *   CORRUPTION.
 */
import { assert } from '../base/assert.js'

/** DO NOT CHANGE: on disk (future encryption AAD binds the block kind). */
export const BlockKind = {
  Data: 0,
  Index: 1,
  Filter: 2,
  RangeDel: 3,
  Properties: 4,
} as const
export type BlockKind = (typeof BlockKind)[keyof typeof BlockKind]

/** DO NOT CHANGE: on disk (first byte of every block trailer). */
export const CompressionType = {
  None: 0,
  /** Reserved: LZ4 is not built in. */
  Lz4: 1,
  Zstd: 2,
  /** Reserved: zstd with a per-table dictionary. */
  ZstdDict: 3,
} as const
export type CompressionType = (typeof CompressionType)[keyof typeof CompressionType]

/** Trailer after every block payload: codec type u8 + masked crc32c u32 LE. */
export const BLOCK_TRAILER_BYTES = 5

export function isCompressionType(value: number): value is CompressionType {
  return Number.isInteger(value) && value >= CompressionType.None && value <= CompressionType.ZstdDict
}

export function isBlockKind(value: number): value is BlockKind {
  return Number.isInteger(value) && value >= BlockKind.Data && value <= BlockKind.Properties
}

assert(BLOCK_TRAILER_BYTES === 1 + 4, 'trailer = type byte + crc32c')
assert(!isCompressionType(4), 'compression types are dense 0..3')
