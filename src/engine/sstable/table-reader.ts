/**
 * TableReader: an open sorted table. open() is synchronous and eager: it reads and verifies
 * the header, footer, index, properties, filter and range-del blocks; data blocks are read on
 * demand by iterators, through the block cache.
 *
 * Invariants:
 * - Nothing read from disk is trusted before its check: magic, versions and footer crc
 *   (format.ts), block crc then bounded decompression (codec), restart arrays (block.ts),
 *   handles against the file layout, properties and fragments (their decoders).
 * - Every failure is CORRUPTION (or UNSUPPORTED for a newer format) naming the file's base
 *   name and an offset; never a wrong value.
 * - Data blocks lie in [HEADER_BYTES, first meta block); the cache holds parsed data blocks
 *   keyed by (fileNumber, offset). A block is verified (checksum, then restart array) once, when
 *   it is read from the file; a cache hit is trusted as it was verified.
 * - The index is decoded once at open into a SparseIndex (every handle bounds-checked then),
 *   so a point lookup (findPoint) binary-searches plain arrays and allocates nothing.
 * - Cached blocks are also reachable by their index in the SparseIndex (`slots`, owned with
 *   the cache: block-cache.ts), so a hit is an array load. A block loaded for findPoint is
 *   recyclable (findPoint's caller copies what it keeps before the next load); one handed to
 *   an iterator is marked escaped, so its memory is never reused while it may be referenced.
 * - A miss reads into a spare buffer recycled by the cache when the file can read into a
 *   buffer (ReadableFile.readInto) and one of a fitting size is free; the checksum is verified
 *   on those bytes exactly as on a fresh read.
 */
import { assert } from '../base/assert.js'
import { DecodeError } from '../base/coding.js'
import { type BlockCache, type BlockSlots } from '../cache/block-cache.js'
import { type BlockCodec, createBlockCodec } from '../codec/block-codec.js'
import { BLOCK_TRAILER_BYTES, BlockKind } from '../codec/block-kind.js'
import { compareInternalKeys, KeyKind } from '../base/internal-key.js'
import { corruption } from '../errors.js'
import { bloomMayContain } from '../filter/bloom.js'
import type { InternalIterator, RangeTombstone } from '../iterator/internal-iterator.js'
import type { ReadableFile } from '../vfs/vfs.js'
import { Block, type BlockIterator } from './block.js'
import { type PointEntry, searchBlock, SparseIndex } from './point-lookup.js'
import {
  type BlockHandle, checkHandle, decodeBlockHandle, decodeTableEnds, FilterType, FOOTER_BYTES, type Footer,
  HEADER_BYTES,
} from './format.js'
import { decodeProperties, type TableProperties } from './properties.js'
import { decodeRangeDelBlock, type RangeDelFragment } from './range-del-block.js'
import { SEARCH_INDEX_BLOCK, type TableBlockSource, TableIterator } from './table-iterator.js'

/** Outcome of TableReader.findPoint. */
export const PointStatus = {
  /** The table has no entry of the key visible at the read seqno. */
  Absent: 0,
  /** The newest visible entry is a Put or a Delete, described by the PointEntry. */
  Found: 1,
  /** Anything else (a merge operand, an unexpected layout): use an iterator for this table. */
  UseIterator: 2,
} as const
export type PointStatus = (typeof PointStatus)[keyof typeof PointStatus]

/**
 * A miss reads into a buffer of its own whose size is rounded up to this many bytes, so that
 * blocks of nearly equal sizes (a 4 KiB target gives 4,101 to 4,231 bytes with the trailer)
 * leave buffers of one size that any of them can be read into when recycled.
 */
const READ_GRANULE_BYTES = 128
/** A block whose backing store is this much larger than the block is copied before caching
 *  (a view into a pooled slab); the rounded read buffers stay below it. */
const CACHE_SLACK_BYTES_MAX = READ_GRANULE_BYTES + BLOCK_TRAILER_BYTES

function roundedReadBytes(physicalBytes: number): number {
  return Math.ceil(physicalBytes / READ_GRANULE_BYTES) * READ_GRANULE_BYTES
}

export class TableReader implements TableBlockSource {
  private closed = false
  /** Index entry i is the index block's restart point i (INDEX_RESTART_INTERVAL = 1). */
  private readonly indexEntryPerRestart: boolean
  /** Cache entries of data blocks by index in the SparseIndex (maintained by the cache). */
  private readonly slots: BlockSlots
  /** The stored fragments, one RangeTombstone per (fragment, seqno), in fragment order. */
  readonly rangeTombstones: readonly RangeTombstone[]

  private constructor(
    private readonly file: ReadableFile,
    readonly fileName: string,
    readonly fileNumber: number,
    private readonly cache: BlockCache | undefined,
    private readonly codec: BlockCodec,
    private readonly footer: Footer,
    private readonly indexBlock: Block,
    readonly properties: TableProperties,
    /** Bloom bits (after the filter type byte), or undefined: every probe answers true. */
    private readonly bloom: Buffer | undefined,
    /** The fragments as stored: sorted, non-overlapping, seqnos descending. */
    readonly rangeDelFragments: readonly RangeDelFragment[],
    /** Data blocks end before this offset. */
    private readonly dataLimit: number,
    private readonly sparseIndex: SparseIndex,
  ) {
    this.slots = new Array<undefined>(sparseIndex.blockCount).fill(undefined)
    this.indexEntryPerRestart = indexBlock.restartCount === sparseIndex.blockCount
    this.rangeTombstones = Object.freeze(
      rangeDelFragments.flatMap((f) => f.seqnos.map((seqno) => ({ start: f.start, end: f.end, seqno }))),
    )
  }

  /**
   * Opens `file` (base name `fileName`, number `fileNumber`). Synchronous. Throws CORRUPTION
   * or UNSUPPORTED naming `fileName`; the caller closes `file` on failure.
   */
  static open(file: ReadableFile, fileName: string, fileNumber: number, cache?: BlockCache): TableReader {
    assert(!fileName.includes('/'), 'fileName is a base name, not a path')
    assert(Number.isSafeInteger(fileNumber) && fileNumber >= 0, 'file number')
    const size = file.sizeBytes
    if (size < HEADER_BYTES + FOOTER_BYTES) {
      throw corruption(`file of ${size} bytes is too short for a table`, fileName, 0)
    }
    const headerBytes = file.readAt(0, HEADER_BYTES)
    const footerBytes = file.readAt(size - FOOTER_BYTES, FOOTER_BYTES)
    const { footer } = decodeTableEnds(headerBytes, footerBytes, fileName, size)
    const codec = createBlockCodec({ compression: 'none' }) // decode reads every supported type
    const meta = readMetaBlocks(file, fileName, fileNumber, codec, footer)
    const presentOffsets = [footer.index, footer.properties, footer.filter, footer.rangeDel]
      .filter((h) => h.size > 0)
      .map((h) => h.offset)
    const dataLimit = Math.min(...presentOffsets)
    assert(dataLimit >= HEADER_BYTES, 'meta blocks follow the header')
    const sparse = decodeSparseIndex(meta.index, fileName, footer.index.offset,
      (value) => decodeDataHandle(value, fileName, dataLimit, footer))
    return new TableReader(file, fileName, fileNumber, cache, codec, footer, meta.index, meta.properties,
      meta.bloom, meta.fragments, dataLimit, sparse)
  }

  /** False only if no point entry of `userKey` is in the table (filter probe). */
  mayContain(userKey: Uint8Array): boolean {
    assert(!this.closed, 'table reader used after close')
    return this.bloom === undefined || bloomMayContain(this.bloom, userKey)
  }

  newIterator(): InternalIterator {
    assert(!this.closed, 'table reader used after close')
    return new TableIterator(this)
  }

  /** TableBlockSource.findBlock: the decoded index, when its entries are the restart points. */
  findBlock(userKey: Uint8Array, seqno: number): number {
    return this.indexEntryPerRestart ? this.sparseIndex.find(userKey, seqno) : SEARCH_INDEX_BLOCK
  }

  newIndexIterator(): BlockIterator {
    return this.indexBlock.newIterator()
  }

  dataHandle(indexValue: Buffer): BlockHandle {
    return decodeDataHandle(indexValue, this.fileName, this.dataLimit, this.footer)
  }

  /** A data block for an iterator: never recycled while cached (the iterator may keep views). */
  readDataBlock(handle: BlockHandle): Block {
    const i = this.sparseIndex.blockAt(handle.offset)
    if (i < 0 || this.sparseIndex.blockSizes[i] !== handle.size) return this.loadBlockByHandle(handle.offset, handle.size)
    return this.loadBlock(i, true)
  }

  /**
   * The newest entry of `userKey` with seqno <= `seqno`, described in `out` when the answer
   * is Found. Requires: mayContain(userKey) was checked by the caller (it is not repeated).
   * `out.data` is a cached block: copy the value out, never mutate it.
   */
  findPoint(userKey: Uint8Array, seqno: number, out: PointEntry): PointStatus {
    assert(!this.closed, 'table reader used after close')
    const index = this.sparseIndex
    const i = index.find(userKey, seqno)
    if (i < 0) return PointStatus.Absent
    const block = this.loadBlock(i, false)
    if (!searchBlock(block, userKey, seqno, out)) return PointStatus.UseIterator
    if (!out.sameKey) return PointStatus.Absent
    return out.kind === KeyKind.Put || out.kind === KeyKind.Delete ? PointStatus.Found : PointStatus.UseIterator
  }

  /**
   * Data block `i` of the index: from the cache, else read, verified, parsed, cached. With
   * `escapes`, the caller may keep the block beyond a point lookup (an iterator).
   */
  private loadBlock(i: number, escapes: boolean): Block {
    assert(!this.closed, 'table reader used after close')
    const cache = this.cache
    if (cache === undefined) return this.readBlock(this.sparseIndex.blockOffsets[i]!, this.sparseIndex.blockSizes[i]!, undefined)
    const entry = cache.lookup(this.slots, i)
    if (entry !== undefined) {
      if (escapes) entry.escaped = true
      return entry.block
    }
    const offset = this.sparseIndex.blockOffsets[i]!
    const block = this.readBlock(offset, this.sparseIndex.blockSizes[i]!, cache)
    cache.set(this.fileNumber, offset, block, this.slots, i, !escapes)
    return block
  }

  /** A data block at (offset, size) that is not in the index's handles (never in practice). */
  private loadBlockByHandle(offset: number, size: number): Block {
    const cached = this.cache?.get(this.fileNumber, offset)
    if (cached !== undefined) return cached
    const block = this.readBlock(offset, size, this.cache)
    this.cache?.set(this.fileNumber, offset, block)
    return block
  }

  /**
   * Reads, verifies and parses the data block at (offset, size). The result owns its backing
   * store (a copy is made when the decoded bytes are a view into a larger buffer), so caching it
   * charges only its bytes. With a cache, the read may go into a recycled spare buffer.
   */
  private readBlock(offset: number, size: number, cache: BlockCache | undefined): Block {
    assert(size > 0, 'data handles are checked first')
    assert(offset + size <= this.dataLimit, 'data handles are checked first')
    const physicalBytes = size + BLOCK_TRAILER_BYTES
    const file = this.file
    let physical: Buffer
    let spare: ArrayBuffer | undefined
    if (cache !== undefined && file.readInto !== undefined) {
      // Into a spare, else into a buffer of its own (never a pooled slab), so that the cached
      // block needs no copy and its buffer can be recycled in turn.
      const rounded = roundedReadBytes(physicalBytes)
      spare = cache.takeSpare(physicalBytes, rounded)
      physical = spare !== undefined
        ? Buffer.from(spare, 0, physicalBytes)
        : Buffer.from(Buffer.allocUnsafeSlow(rounded).buffer, 0, physicalBytes)
      file.readInto(offset, physical)
    } else {
      physical = file.readAt(offset, physicalBytes)
    }
    const at = { fileNumber: this.fileNumber, offset, kind: BlockKind.Data }
    let raw = this.codec.decode(physical, at, this.fileName)
    if (spare !== undefined && raw.buffer !== spare) cache!.giveSpare(spare) // decompressed elsewhere
    if (cache !== undefined && raw.buffer.byteLength > raw.length + CACHE_SLACK_BYTES_MAX) {
      // A view into a larger store (a pooled slab for small blocks): cache an exact copy so
      // the block pins only its own bytes and the charge is honest.
      Block.parse(raw, this.fileName, offset) // validate before copying
      raw = Buffer.from(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length))
    }
    return Block.parse(raw, this.fileName, offset)
  }

  /** Closes the file. Idempotent. Iterators must not be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.file.close()
  }
}

/** Decodes and bounds-checks an index entry's value. */
function decodeDataHandle(indexValue: Buffer, fileName: string, dataLimit: number, footer: Footer): BlockHandle {
  let handle: BlockHandle
  try {
    handle = decodeBlockHandle(indexValue)
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err
    throw corruption(`bad index entry: ${err.message}`, fileName, footer.index.offset, err)
  }
  checkHandle(handle, fileName, dataLimit, footer.index.offset, true)
  return handle
}

/** Walks the index block once: keys copied into one buffer and checked ascending, handles checked. */
function decodeSparseIndex(
  index: Block, fileName: string, indexOffset: number, handleOf: (value: Buffer) => BlockHandle,
): SparseIndex {
  const keys: Buffer[] = []
  const offsets: number[] = []
  const sizes: number[] = []
  let keyBytes = 0
  const it = index.newIterator()
  for (it.first(); it.valid; it.next()) {
    const handle = handleOf(it.value)
    const key = Buffer.from(it.key)
    const previous = keys[keys.length - 1]
    if (previous !== undefined && compareInternalKeys(previous, key) >= 0) {
      throw corruption('index keys out of order', fileName, indexOffset)
    }
    keys.push(key)
    keyBytes += key.length
    offsets.push(handle.offset)
    sizes.push(handle.size)
  }
  const keyEnds = new Uint32Array(keys.length)
  let end = 0
  keys.forEach((key, i) => {
    end += key.length
    keyEnds[i] = end
  })
  assert(end === keyBytes, 'index keys laid end to end')
  return new SparseIndex(Buffer.concat(keys, keyBytes), keyEnds, Float64Array.from(offsets), Float64Array.from(sizes))
}

interface MetaBlocks {
  index: Block
  properties: TableProperties
  bloom: Buffer | undefined
  fragments: RangeDelFragment[]
}

/** Reads, verifies and decodes the index, properties, filter and range-del blocks. */
function readMetaBlocks(
  file: ReadableFile, fileName: string, fileNumber: number, codec: BlockCodec, footer: Footer,
): MetaBlocks {
  const read = (handle: BlockHandle, kind: BlockKind): Buffer => {
    assert(handle.size > 0, 'only present blocks are read')
    const physical = file.readAt(handle.offset, handle.size + BLOCK_TRAILER_BYTES)
    return codec.decode(physical, { fileNumber, offset: handle.offset, kind }, fileName)
  }
  const { index: indexHandle, properties: propertiesHandle, filter, rangeDel } = footer
  const index = Block.parse(read(indexHandle, BlockKind.Index), fileName, indexHandle.offset)
  const properties = decodeProperties(read(propertiesHandle, BlockKind.Properties), fileName,
    propertiesHandle.offset)
  checkProperties(properties, footer, fileName, fileNumber)
  const bloom = filter.size === 0
    ? undefined
    : parseFilter(read(filter, BlockKind.Filter), fileName, filter.offset)
  const fragments = rangeDel.size === 0
    ? []
    : decodeRangeDelBlock(read(rangeDel, BlockKind.RangeDel), fileName, rangeDel.offset)
  const stored = fragments.reduce((n, f) => n + f.seqnos.length, 0)
  if (stored !== properties.rangeTombstones) {
    throw corruption('range tombstone count differs from the properties', fileName, propertiesHandle.offset)
  }
  return { index, properties, bloom, fragments }
}

function checkProperties(p: TableProperties, footer: Footer, fileName: string, fileNumber: number): void {
  if (p.formatVersion !== footer.formatVersion) {
    throw corruption('properties format version differs from the footer', fileName, footer.properties.offset)
  }
  if (p.fileNumber !== fileNumber) {
    throw corruption(`table was written as file number ${p.fileNumber}`, fileName, footer.properties.offset)
  }
}

/** The bloom bits of a filter block, or undefined for a reserved filter type (ignored). */
function parseFilter(raw: Buffer, fileName: string, blockOffset: number): Buffer | undefined {
  const type = raw[0]
  if (type === FilterType.Burr) return undefined
  if (type !== FilterType.Bloom) throw corruption(`unknown filter type ${String(type)}`, fileName, blockOffset)
  if (raw.length < 3) throw corruption('bloom filter too short', fileName, blockOffset)
  return raw.subarray(1)
}
