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
 * - Data blocks lie in [HEADER_BYTES, first meta block); the cache holds decoded data blocks
 *   keyed by (fileNumber, offset).
 */
import { assert } from '../base/assert.js'
import { DecodeError } from '../base/coding.js'
import { type BlockCache } from '../cache/block-cache.js'
import { type BlockCodec, createBlockCodec } from '../codec/block-codec.js'
import { BLOCK_TRAILER_BYTES, BlockKind } from '../codec/block-kind.js'
import { corruption } from '../errors.js'
import { bloomMayContain } from '../filter/bloom.js'
import type { InternalIterator, RangeTombstone } from '../iterator/internal-iterator.js'
import type { ReadableFile } from '../vfs/vfs.js'
import { Block, type BlockIterator } from './block.js'
import {
  type BlockHandle, checkHandle, decodeBlockHandle, decodeTableEnds, FilterType, FOOTER_BYTES, type Footer,
  HEADER_BYTES,
} from './format.js'
import { decodeProperties, type TableProperties } from './properties.js'
import { decodeRangeDelBlock, type RangeDelFragment } from './range-del-block.js'
import { type TableBlockSource, TableIterator } from './table-iterator.js'

export class TableReader implements TableBlockSource {
  private closed = false
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
  ) {
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
    return new TableReader(file, fileName, fileNumber, cache, codec, footer, meta.index, meta.properties,
      meta.bloom, meta.fragments, dataLimit)
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

  newIndexIterator(): BlockIterator {
    return this.indexBlock.newIterator()
  }

  dataHandle(indexValue: Buffer): BlockHandle {
    let handle: BlockHandle
    try {
      handle = decodeBlockHandle(indexValue)
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
      throw corruption(`bad index entry: ${err.message}`, this.fileName, this.footer.index.offset, err)
    }
    checkHandle(handle, this.fileName, this.dataLimit, this.footer.index.offset, true)
    return handle
  }

  readDataBlock(handle: BlockHandle): Block {
    assert(!this.closed, 'table reader used after close')
    assert(handle.size > 0, 'data handles are checked first')
    assert(handle.offset + handle.size <= this.dataLimit, 'data handles are checked first')
    const cached = this.cache?.get(this.fileNumber, handle.offset)
    if (cached !== undefined) return Block.parse(cached, this.fileName, handle.offset)
    const physical = this.file.readAt(handle.offset, handle.size + BLOCK_TRAILER_BYTES)
    const at = { fileNumber: this.fileNumber, offset: handle.offset, kind: BlockKind.Data }
    const raw = this.codec.decode(physical, at, this.fileName)
    const block = Block.parse(raw, this.fileName, handle.offset) // validate before caching
    this.cache?.set(this.fileNumber, handle.offset, raw)
    return block
  }

  /** Closes the file. Idempotent. Iterators must not be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.file.close()
  }
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
