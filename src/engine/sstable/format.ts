/**
 * Sorted table (.sst) format v1: file layout, header, footer and block handles. The full spec,
 * with examples, is docs/format/sstable.md; keep the two in step.
 *
 *   +--------------+-------------+---------+-------------+------------+-------+--------------+
 *   | header 32 B  | data blocks | filter? | range-del?  | properties | index | footer 64 B  |
 *   +--------------+-------------+---------+-------------+------------+-------+--------------+
 *   every block = payload | trailer(type u8, masked crc32c u32 LE) (codec/block-codec.ts);
 *   a block handle (offset, size) points at the payload and its size EXCLUDES the 5-B trailer.
 *
 * Header (offset 0, 32 bytes):
 *   0   magic "STRATSST"                        8 bytes
 *   8   format version        u32 LE = 1
 *   12  flags                 u32 LE   bit0 = encrypted (reserved: must be 0); others unknown
 *   16  salt                  16 bytes per-file encryption salt seam; all zero while unencrypted
 *
 * Footer (last 64 bytes):
 *   0   index handle          offset u64 LE | size u32 LE      (always present)
 *   12  properties handle     offset u64 LE | size u32 LE      (always present)
 *   24  filter handle         offset u64 LE | size u32 LE      (size 0 = absent, offset 0)
 *   36  range-del handle      offset u64 LE | size u32 LE      (size 0 = absent, offset 0)
 *   48  reserved              0 bytes in v1 (the handles fill the space)
 *   48  format version        u32 LE = 1
 *   52  footer crc            u32 LE   crc32c masked over footer bytes [0, 52)
 *   56  magic "STRATSST"       8 bytes, the file's last bytes
 *
 * Invariants (checked on open, in this order):
 * - Both magics present, else CORRUPTION.
 * - Header and footer agree on an unknown version => UNSUPPORTED (a newer writer); otherwise
 *   the footer crc must hold (CORRUPTION), the footer version must be 1 (UNSUPPORTED) and the
 *   header version must equal it (CORRUPTION: the header is not checksummed, the footer is).
 * - Unknown or reserved header flag bits => UNSUPPORTED; a non-zero salt without the encrypted
 *   flag => CORRUPTION.
 * - Every present handle lies in [HEADER_BYTES, footer offset) with its trailer.
 */
import { assert } from '../base/assert.js'
import { ByteReader, type ByteWriter, DecodeError, readFixed64, writeFixed64 } from '../base/coding.js'
import { crc32c, maskCrc } from '../base/crc32c.js'
import { BLOCK_TRAILER_BYTES } from '../codec/block-kind.js'
import { corruption, ErrorCode, StrataError } from '../errors.js'

/** "STRATSST": identifies a Strata sorted table at both ends of the file. */
export const TABLE_MAGIC: Buffer = Buffer.from('STRATSST', 'latin1')
export const TABLE_FORMAT_VERSION = 1
export const HEADER_BYTES = 32
export const FOOTER_BYTES = 64
export const SALT_BYTES = 16
/** A footer handle: offset u64 + size u32. */
export const FOOTER_HANDLE_BYTES = 12
const FOOTER_VERSION_AT = 4 * FOOTER_HANDLE_BYTES
const FOOTER_CRC_AT = FOOTER_VERSION_AT + 4
const FOOTER_MAGIC_AT = FOOTER_CRC_AT + 4
/** Data block restart interval (leveldb default); index blocks restart at every entry. */
export const DATA_RESTART_INTERVAL = 16
export const INDEX_RESTART_INTERVAL = 1
/** A handle's size is a u32 in the footer. */
export const BLOCK_HANDLE_SIZE_MAX = 0xffff_ffff

/** DO NOT CHANGE: on disk (header flags). */
export const HeaderFlag = {
  /** Reserved for AES-256-GCM at rest; not implemented, so a set bit is UNSUPPORTED. */
  Encrypted: 1,
} as const
/** Bits this build can read (none are set by v1 writers). */
const HEADER_FLAGS_KNOWN = 0

/**
 * DO NOT CHANGE: on disk. First byte of the filter block payload; the rest is the filter.
 * Filters are per table, over user keys.
 */
export const FilterType = {
  /** filter/bloom.ts: bit array | k u8. */
  Bloom: 1,
  /** Reserved for BuRR (bumped ribbon retrieval); a reader ignores it (probes answer true). */
  Burr: 2,
} as const
export type FilterType = (typeof FilterType)[keyof typeof FilterType]

export interface BlockHandle {
  offset: number
  /** Payload bytes, excluding the block trailer. 0 = absent (footer only). */
  size: number
}

export const ABSENT_HANDLE: Readonly<BlockHandle> = Object.freeze({ offset: 0, size: 0 })

export interface Footer {
  index: BlockHandle
  properties: BlockHandle
  filter: BlockHandle
  rangeDel: BlockHandle
  formatVersion: number
}

export interface TableHeader {
  formatVersion: number
  flags: number
  salt: Buffer
}

assert(FOOTER_MAGIC_AT + TABLE_MAGIC.length === FOOTER_BYTES, 'footer layout sums to 64 bytes')
assert(8 + 4 + 4 + SALT_BYTES === HEADER_BYTES, 'header layout sums to 32 bytes')
assert(TABLE_MAGIC.length === 8, 'magic is 8 bytes')

/** The 32-byte header of a v1 table (unencrypted: flags 0, zero salt). */
export function encodeHeader(): Buffer {
  const out = Buffer.alloc(HEADER_BYTES)
  TABLE_MAGIC.copy(out, 0)
  out.writeUInt32LE(TABLE_FORMAT_VERSION, 8)
  out.writeUInt32LE(0, 12)
  assert(out.subarray(16).every((b) => b === 0), 'unencrypted salt is zero')
  return out
}

export function encodeFooter(footer: Footer): Buffer {
  assert(footer.formatVersion === TABLE_FORMAT_VERSION, 'writers only write the current version')
  assert(footer.index.size > 0 && footer.properties.size > 0, 'index and properties are required')
  const out = Buffer.alloc(FOOTER_BYTES)
  const handles = [footer.index, footer.properties, footer.filter, footer.rangeDel]
  handles.forEach((h, i) => writeFooterHandle(out, i * FOOTER_HANDLE_BYTES, h))
  out.writeUInt32LE(footer.formatVersion, FOOTER_VERSION_AT)
  out.writeUInt32LE(maskCrc(crc32c(out, 0, FOOTER_CRC_AT)), FOOTER_CRC_AT)
  TABLE_MAGIC.copy(out, FOOTER_MAGIC_AT)
  return out
}

function writeFooterHandle(out: Buffer, at: number, h: BlockHandle): void {
  assert(Number.isInteger(h.size) && h.size >= 0 && h.size <= BLOCK_HANDLE_SIZE_MAX, 'handle size')
  assert(h.size > 0 || h.offset === 0, 'an absent handle has offset 0')
  writeFixed64(out, at, h.offset)
  out.writeUInt32LE(h.size, at + 8)
}

/**
 * Validates and decodes the header and footer of a table of `fileSizeBytes` bytes.
 * Throws CORRUPTION or UNSUPPORTED naming `fileName` (see the file comment for the order).
 */
export function decodeTableEnds(
  headerBytes: Buffer, footerBytes: Buffer, fileName: string, fileSizeBytes: number,
): { header: TableHeader; footer: Footer } {
  assert(headerBytes.length === HEADER_BYTES, 'header read size')
  assert(footerBytes.length === FOOTER_BYTES, 'footer read size')
  const footerOffset = fileSizeBytes - FOOTER_BYTES
  if (!footerBytes.subarray(FOOTER_MAGIC_AT).equals(TABLE_MAGIC)) {
    throw corruption('bad table magic in footer', fileName, footerOffset + FOOTER_MAGIC_AT)
  }
  if (!headerBytes.subarray(0, 8).equals(TABLE_MAGIC)) {
    throw corruption('bad table magic in header', fileName, 0)
  }
  const headerVersion = headerBytes.readUInt32LE(8)
  const footerVersion = footerBytes.readUInt32LE(FOOTER_VERSION_AT)
  if (headerVersion === footerVersion && footerVersion !== TABLE_FORMAT_VERSION) {
    throw unsupportedVersion(footerVersion, fileName)
  }
  if (maskCrc(crc32c(footerBytes, 0, FOOTER_CRC_AT)) !== footerBytes.readUInt32LE(FOOTER_CRC_AT)) {
    throw corruption('footer checksum mismatch', fileName, footerOffset)
  }
  if (footerVersion !== TABLE_FORMAT_VERSION) throw unsupportedVersion(footerVersion, fileName)
  if (headerVersion !== footerVersion) {
    throw corruption('header format version differs from the footer', fileName, 8)
  }
  const header = decodeHeaderFields(headerBytes, fileName)
  const footer = decodeFooterHandles(footerBytes, fileName, footerOffset)
  return { header, footer }
}

function unsupportedVersion(version: number, fileName: string): StrataError {
  return new StrataError(ErrorCode.UNSUPPORTED,
    `table ${fileName} has format version ${version}; this build reads version ${TABLE_FORMAT_VERSION}`,
    { file: fileName })
}

function decodeHeaderFields(headerBytes: Buffer, fileName: string): TableHeader {
  const flags = headerBytes.readUInt32LE(12)
  if ((flags & ~HEADER_FLAGS_KNOWN) !== 0) {
    const what = flags & HeaderFlag.Encrypted
      ? 'is encrypted (not supported by this build)'
      : `has unknown flags 0x${flags.toString(16)}`
    throw new StrataError(ErrorCode.UNSUPPORTED, `table ${fileName} ${what}`, { file: fileName, offset: 12 })
  }
  const salt = Buffer.from(headerBytes.subarray(16, 16 + SALT_BYTES))
  if (!salt.every((b) => b === 0)) throw corruption('non-zero salt in an unencrypted table', fileName, 16)
  assert(salt.length === SALT_BYTES, 'salt size')
  return { formatVersion: TABLE_FORMAT_VERSION, flags, salt }
}

function decodeFooterHandles(footerBytes: Buffer, fileName: string, footerOffset: number): Footer {
  const read = (i: number, required: boolean): BlockHandle => {
    const at = i * FOOTER_HANDLE_BYTES
    let offset: number
    try {
      offset = readFixed64(footerBytes, at)
    } catch {
      throw corruption('block handle offset beyond 2^53', fileName, footerOffset + at)
    }
    const handle = { offset, size: footerBytes.readUInt32LE(at + 8) }
    checkHandle(handle, fileName, footerOffset, footerOffset + at, required)
    return handle
  }
  const footer: Footer = {
    index: read(0, true),
    properties: read(1, true),
    filter: read(2, false),
    rangeDel: read(3, false),
    formatVersion: footerBytes.readUInt32LE(FOOTER_VERSION_AT),
  }
  assert(footer.formatVersion === TABLE_FORMAT_VERSION, 'footer version checked before')
  return footer
}

/**
 * CORRUPTION unless `handle` (with its trailer) lies in [HEADER_BYTES, limitOffset).
 * An absent handle (size 0) must have offset 0 and is refused when `required`.
 * `whereOffset` is where the handle itself was read (named in the error).
 */
export function checkHandle(
  handle: BlockHandle, fileName: string, limitOffset: number, whereOffset: number, required: boolean,
): void {
  assert(limitOffset <= Number.MAX_SAFE_INTEGER, 'limit offset')
  if (handle.size === 0) {
    if (required) throw corruption('required block is missing', fileName, whereOffset)
    if (handle.offset !== 0) throw corruption('absent block with a non-zero offset', fileName, whereOffset)
    return
  }
  const end = handle.offset + handle.size + BLOCK_TRAILER_BYTES
  if (handle.offset < HEADER_BYTES || end > limitOffset) {
    throw corruption(`block handle (${handle.offset}, ${handle.size}) out of bounds`, fileName, whereOffset)
  }
}

/** Index-block value form of a handle: offset varint | size varint. */
export function encodeBlockHandle(writer: ByteWriter, handle: BlockHandle): void {
  assert(handle.size > 0, 'index entries point at real blocks')
  assert(handle.size <= BLOCK_HANDLE_SIZE_MAX, 'handle size fits u32')
  writer.varint(handle.offset).varint(handle.size)
}

/** Decodes an index value; throws DecodeError unless it is exactly two varints. */
export function decodeBlockHandle(value: Buffer): BlockHandle {
  const reader = new ByteReader(value)
  const offset = reader.varint()
  const size = reader.varint()
  if (!reader.done) throw new DecodeError('trailing bytes after a block handle', reader.pos)
  return { offset, size }
}
