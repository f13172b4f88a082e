/**
 * TableBuilder: writes one sorted table (format.ts, docs/format/sstable.md) through a
 * WritableFile. Protocol (leveldb table_builder.h): (add | addRangeTombstone)* (finish | abandon).
 *
 * Invariants:
 * - Point entries arrive in strictly increasing internal order (asserted); range tombstones in
 *   any order (they are fragmented at finish).
 * - A data block is cut once its estimated size reaches `blockBytes`; its index entry's key is
 *   the block's last internal key (>= every key of the block, < every key of the next).
 * - Every byte written goes through the running crc32c, so BuiltTable.checksum is the
 *   (unmasked) crc32c of the whole file without re-reading it.
 * - A table with nothing added is a programmer error; tombstones alone make a valid table.
 * - finish() syncs and closes the file; abandon() only closes it (the caller removes it).
 */
import { assert } from '../base/assert.js'
import { ByteWriter } from '../base/coding.js'
import { crc32cUpdate } from '../base/crc32c.js'
import {
  compareInternalKeys, encodeInternalKey, isKeyKind, KEY_BYTES_MAX, KeyKind,
} from '../base/internal-key.js'
import { type BlockCodec, createBlockCodec } from '../codec/block-codec.js'
import { BLOCK_TRAILER_BYTES, BlockKind } from '../codec/block-kind.js'
import { bloomHash, buildBloomFilter, BLOOM_BITS_PER_KEY_MAX } from '../filter/bloom.js'
import { BLOCK_RAW_BYTES_MAX, VALUE_BYTES_MAX } from '../options.js'
import type { WritableFile } from '../vfs/vfs.js'
import { BlockBuilder } from './block-builder.js'
import {
  ABSENT_HANDLE, type BlockHandle, DATA_RESTART_INTERVAL, encodeBlockHandle, encodeFooter, encodeHeader,
  FilterType, HEADER_BYTES, INDEX_RESTART_INTERVAL, TABLE_FORMAT_VERSION,
} from './format.js'
import { encodeProperties } from './properties.js'
import { encodeRangeDelBlock, fragmentTombstones, type RangeDelFragment } from './range-del-block.js'
import type { RangeTombstone } from '../iterator/internal-iterator.js'

/** The data block buffer starts at most this big and grows on demand (huge blockBytes values). */
const BLOCK_BUFFER_INITIAL_BYTES_MAX = 1024 * 1024

export interface TableBuilderOptions {
  /** Target uncompressed data block size. */
  blockBytes: number
  /** Data block restart interval (default 16). */
  restartInterval?: number
  compression: 'none' | 'zstd'
  zstdLevel?: number
  /** Bloom bits per user key; 0 = no filter block. */
  filterBitsPerKey: number
  /** Creation time stored in the properties (default Date.now()); fixed in golden tests. */
  creationTimeMs?: number
}

export interface BuiltTable {
  sizeBytes: number
  /** crc32c (unmasked) of the whole file. */
  checksum: number
  smallestKey: Buffer
  largestKey: Buffer
  smallestSeqno: number
  largestSeqno: number
  entries: number
  rangeTombstones: number
}

/** open -(finish ok)-> finished; open -(finish throws)-> failed; open|failed -(abandon)-> abandoned */
type BuilderState = 'open' | 'finished' | 'failed' | 'abandoned'

export class TableBuilder {
  private readonly codec: BlockCodec
  private readonly dataBlock: BlockBuilder
  private readonly indexBlock = new BlockBuilder(INDEX_RESTART_INTERVAL)
  private readonly keyHashes: number[] = []
  private readonly tombstones: RangeTombstone[] = []
  private state: BuilderState = 'open'
  private offset = 0
  private crc = 0
  private entries = 0
  private dataBlocks = 0
  private rawKeyBytes = 0
  private rawValueBytes = 0
  private smallestSeqno = Number.POSITIVE_INFINITY
  private largestSeqno = -1
  private firstUserKey: Buffer | undefined
  private lastUserKey: Buffer | undefined
  private lastInternalKey: Buffer | undefined

  constructor(
    private readonly file: WritableFile,
    /** Base name of the file, e.g. `000012.sst`. */
    readonly fileName: string,
    private readonly fileNumber: number,
    private readonly options: TableBuilderOptions,
  ) {
    assert(!fileName.includes('/'), 'fileName is a base name, not a path')
    assert(Number.isSafeInteger(fileNumber) && fileNumber >= 0, 'file number')
    assert(file.sizeBytes === 0, 'a table is written into an empty file')
    assert(Number.isInteger(options.blockBytes) && options.blockBytes >= 1, 'blockBytes')
    assert(options.blockBytes <= BLOCK_RAW_BYTES_MAX, 'blockBytes over BLOCK_RAW_BYTES_MAX')
    const bits = options.filterBitsPerKey
    assert(Number.isInteger(bits) && bits >= 0 && bits <= BLOOM_BITS_PER_KEY_MAX, 'filterBitsPerKey')
    this.codec = createBlockCodec({
      compression: options.compression,
      ...(options.zstdLevel === undefined ? {} : { zstdLevel: options.zstdLevel }),
    })
    const initialBlockBytes = Math.min(options.blockBytes + 1024, BLOCK_BUFFER_INITIAL_BYTES_MAX)
    this.dataBlock = new BlockBuilder(options.restartInterval ?? DATA_RESTART_INTERVAL, initialBlockBytes)
    this.write(encodeHeader())
    assert(this.offset === HEADER_BYTES, 'header written first')
  }

  /** Point entries added so far. */
  get entryCount(): number {
    return this.entries
  }

  /** Approximate file size if finished now (data written + pending block + index + filter). */
  get estimatedBytes(): number {
    const filterBytes = Math.ceil((this.keyHashes.length * this.options.filterBitsPerKey) / 8)
    return this.offset + this.dataBlock.estimatedBytes + this.indexBlock.estimatedBytes + filterBytes
  }

  /** Requires: open; (userKey, seqno, kind) > every entry added, in internal order. */
  add(userKey: Uint8Array, seqno: number, kind: KeyKind, value: Uint8Array): void {
    assert(this.state === 'open', 'add on a finished, failed or abandoned builder')
    assert(isKeyKind(kind) && kind !== KeyKind.RangeDelete, 'point entry kind')
    assert(userKey.length <= KEY_BYTES_MAX, 'key over KEY_BYTES_MAX')
    assert(value.length <= VALUE_BYTES_MAX, 'value over VALUE_BYTES_MAX')
    const internalKey = encodeInternalKey(userKey, seqno, kind)
    if (this.lastInternalKey !== undefined) {
      const order = compareInternalKeys(this.lastInternalKey, internalKey)
      assert(order < 0, 'entries must be strictly increasing')
    }
    this.dataBlock.add(internalKey, value)
    const sameUserKey = this.lastUserKey !== undefined && this.lastUserKey.equals(userKey)
    if (!sameUserKey) {
      const copied = internalKey.subarray(0, userKey.length)
      if (this.lastUserKey !== undefined) assert(Buffer.compare(this.lastUserKey, copied) < 0, 'user keys ascending')
      if (this.options.filterBitsPerKey > 0) this.keyHashes.push(bloomHash(copied))
      this.firstUserKey ??= copied
      this.lastUserKey = copied
    }
    this.lastInternalKey = internalKey
    this.entries++
    this.rawKeyBytes += userKey.length
    this.rawValueBytes += value.length
    this.noteSeqno(seqno)
    if (this.dataBlock.estimatedBytes >= this.options.blockBytes) this.flushDataBlock()
  }

  /** Requires: open; start < end. Tombstones may come in any order. */
  addRangeTombstone(start: Uint8Array, end: Uint8Array, seqno: number): void {
    assert(this.state === 'open', 'addRangeTombstone on a finished or abandoned builder')
    assert(Buffer.compare(start, end) < 0, 'range tombstone start < end')
    assert(start.length <= KEY_BYTES_MAX && end.length <= KEY_BYTES_MAX, 'tombstone key over KEY_BYTES_MAX')
    assert(Number.isSafeInteger(seqno) && seqno >= 0, 'tombstone seqno')
    this.tombstones.push({ start: Buffer.from(start), end: Buffer.from(end), seqno })
    this.noteSeqno(seqno)
  }

  /**
   * Writes the remaining blocks and the footer, then syncs and closes the file. On failure
   * (IO) the builder is spent: call abandon() and remove the file.
   */
  async finish(): Promise<BuiltTable> {
    assert(this.state === 'open', 'finish on a finished or abandoned builder')
    assert(this.entries > 0 || this.tombstones.length > 0, 'an empty table cannot be finished')
    this.state = 'failed'
    const built = await this.finishImpl()
    this.state = 'finished'
    return built
  }

  private async finishImpl(): Promise<BuiltTable> {
    if (!this.dataBlock.isEmpty) this.flushDataBlock()
    const filter = this.writeFilterBlock()
    const fragments = fragmentTombstones(this.tombstones)
    const rangeDel = fragments.length === 0
      ? ABSENT_HANDLE
      : this.writeBlock(encodeRangeDelBlock(fragments), BlockKind.RangeDel)
    const storedTombstones = fragments.reduce((n, f) => n + f.seqnos.length, 0)
    const { smallestKey, largestKey } = this.keyRange(fragments)
    const properties = this.writeBlock(encodeProperties({
      formatVersion: TABLE_FORMAT_VERSION, fileNumber: this.fileNumber, entries: this.entries,
      rangeTombstones: storedTombstones, dataBlocks: this.dataBlocks, rawKeyBytes: this.rawKeyBytes,
      rawValueBytes: this.rawValueBytes, smallestSeqno: this.smallestSeqno, largestSeqno: this.largestSeqno,
      smallestKey, largestKey, compression: this.options.compression,
      creationTimeMs: this.options.creationTimeMs ?? Date.now(),
    }), BlockKind.Properties)
    const index = this.writeBlock(this.indexBlock.finish(), BlockKind.Index)
    this.write(encodeFooter({ index, properties, filter, rangeDel, formatVersion: TABLE_FORMAT_VERSION }))
    assert(this.file.sizeBytes === this.offset, 'file size matches the bytes written')
    try {
      await this.file.sync()
    } finally {
      await this.file.close()
    }
    return {
      sizeBytes: this.offset, checksum: this.crc, smallestKey, largestKey,
      smallestSeqno: this.smallestSeqno, largestSeqno: this.largestSeqno,
      entries: this.entries, rangeTombstones: storedTombstones,
    }
  }

  /** Closes the file without finishing it (also after a failed finish); the caller removes the
   *  file. Idempotent. */
  async abandon(): Promise<void> {
    assert(this.state !== 'finished', 'abandon after a successful finish')
    this.state = 'abandoned'
    await this.file.close()
  }

  private noteSeqno(seqno: number): void {
    this.smallestSeqno = Math.min(this.smallestSeqno, seqno)
    this.largestSeqno = Math.max(this.largestSeqno, seqno)
  }

  /** User-key range of the point entries widened by the tombstone extents (copies). */
  private keyRange(fragments: readonly RangeDelFragment[]): { smallestKey: Buffer; largestKey: Buffer } {
    let smallest = this.firstUserKey
    let largest = this.lastUserKey
    const first = fragments[0]
    const last = fragments[fragments.length - 1]
    if (first !== undefined && (smallest === undefined || Buffer.compare(first.start, smallest) < 0)) {
      smallest = first.start
    }
    if (last !== undefined && (largest === undefined || Buffer.compare(last.end, largest) > 0)) {
      largest = last.end
    }
    assert(smallest !== undefined && largest !== undefined, 'a non-empty table has a key range')
    return { smallestKey: Buffer.from(smallest), largestKey: Buffer.from(largest) }
  }

  private flushDataBlock(): void {
    assert(!this.dataBlock.isEmpty, 'no empty data blocks')
    const lastKey = Buffer.from(this.dataBlock.lastKey)
    const handle = this.writeBlock(this.dataBlock.finish(), BlockKind.Data)
    this.dataBlock.reset()
    const value = new ByteWriter(16)
    encodeBlockHandle(value, handle)
    this.indexBlock.add(lastKey, value.finish())
    this.dataBlocks++
  }

  private writeFilterBlock(): BlockHandle {
    if (this.options.filterBitsPerKey === 0 || this.keyHashes.length === 0) return ABSENT_HANDLE
    const bloom = buildBloomFilter(this.keyHashes, this.options.filterBitsPerKey)
    const payload = Buffer.allocUnsafe(1 + bloom.length)
    payload[0] = FilterType.Bloom
    bloom.copy(payload, 1)
    return this.writeBlock(payload, BlockKind.Filter)
  }

  /** Encodes `raw` through the codec and appends it; returns its handle. */
  private writeBlock(raw: Buffer, kind: BlockKind): BlockHandle {
    const at = { fileNumber: this.fileNumber, offset: this.offset, kind }
    const physical = this.codec.encode(raw, at)
    const handle = { offset: this.offset, size: physical.length - BLOCK_TRAILER_BYTES }
    this.write(physical)
    assert(handle.size > 0, 'written blocks are non-empty')
    return handle
  }

  private write(bytes: Buffer): void {
    this.file.append(bytes)
    this.crc = crc32cUpdate(this.crc, bytes)
    this.offset += bytes.length
  }
}
