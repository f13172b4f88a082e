/**
 * TableIterator: the InternalIterator of one table, a two-level cursor (leveldb
 * table/two_level_iterator.cc): an index block cursor picks a data block, a data block cursor
 * walks its entries; empty or exhausted data blocks are skipped in both directions.
 *
 * Invariants:
 * - `data` is defined only while `index` is valid and positioned on the entry `data` came from.
 * - After any throw (CORRUPTION naming the file and block offset, IO) the cursor is invalid.
 * - key/value views are valid until the next positioning call.
 */
import { assert } from '../base/assert.js'
import { isKeyKind, KeyKind, MAX_SEQNO, TRAILER_BYTES, trailerSeqno } from '../base/internal-key.js'
import { corruption } from '../errors.js'
import type { InternalIterator } from '../iterator/internal-iterator.js'
import type { Block, BlockIterator } from './block.js'
import type { BlockHandle } from './format.js'

/** What the iterator needs from its table (implemented by TableReader). */
export interface TableBlockSource {
  readonly fileName: string
  newIndexIterator(): BlockIterator
  /** Decodes and bounds-checks an index entry's value. */
  dataHandle(indexValue: Buffer): BlockHandle
  /** Reads (through the block cache) and parses a data block. */
  readDataBlock(handle: BlockHandle): Block
  /**
   * The index entry whose block is the first that can hold (userKey, seqno), -1 when none, or
   * SEARCH_INDEX_BLOCK when index entry i is not the index block's restart point i (TableReader
   * answers from its decoded index: a search far cheaper than the index block's own).
   */
  findBlock(userKey: Uint8Array, seqno: number): number
}

/** findBlock's answer when the iterator must search the index block itself. */
export const SEARCH_INDEX_BLOCK = -2

const EMPTY = Buffer.alloc(0)

export class TableIterator implements InternalIterator {
  private readonly index: BlockIterator
  private data: BlockIterator | undefined
  private dataOffset = -1
  private closed = false
  private isValid = false
  private currentKey: Buffer = EMPTY
  private currentSeqno = 0
  private currentKind: KeyKind = KeyKind.Put

  constructor(private readonly source: TableBlockSource) {
    this.index = source.newIndexIterator()
  }

  get valid(): boolean {
    return this.isValid
  }

  get key(): Buffer {
    assert(this.isValid, 'key requires a valid iterator')
    return this.currentKey
  }

  get seqno(): number {
    assert(this.isValid, 'seqno requires a valid iterator')
    return this.currentSeqno
  }

  get kind(): KeyKind {
    assert(this.isValid, 'kind requires a valid iterator')
    return this.currentKind
  }

  get value(): Buffer {
    assert(this.isValid && this.data !== undefined, 'value requires a valid iterator')
    return this.data.value
  }

  seekGE(userKey: Uint8Array, seqno: number = MAX_SEQNO): void {
    this.guard(() => this.seekGEImpl(userKey, seqno))
  }

  seekLT(userKey: Uint8Array): void {
    this.guard(() => {
      this.seekGEImpl(userKey, MAX_SEQNO)
      if (this.isValid) this.prevImpl()
      else this.lastImpl()
    })
  }

  first(): void {
    this.guard(() => {
      this.index.first()
      if (this.loadBlock()) this.data!.first()
      this.skipForward()
    })
  }

  last(): void {
    this.guard(() => this.lastImpl())
  }

  next(): void {
    assert(this.isValid, 'next requires a valid iterator')
    this.guard(() => {
      this.data!.next()
      this.skipForward()
    })
  }

  prev(): void {
    assert(this.isValid, 'prev requires a valid iterator')
    this.guard(() => this.prevImpl())
  }

  close(): void {
    this.closed = true
    this.isValid = false
    this.data = undefined
  }

  private seekGEImpl(userKey: Uint8Array, seqno: number): void {
    const found = this.source.findBlock(userKey, seqno)
    if (found === SEARCH_INDEX_BLOCK) this.index.seekGE(userKey, seqno)
    else if (found < 0) this.index.seekToEnd()
    else this.index.seekToRestart(found)
    if (this.loadBlock()) this.data!.seekGE(userKey, seqno)
    this.skipForward()
  }

  private lastImpl(): void {
    this.index.last()
    if (this.loadBlock()) this.data!.last()
    this.skipBackward()
  }

  private prevImpl(): void {
    this.data!.prev()
    this.skipBackward()
  }

  private guard(position: () => void): void {
    assert(!this.closed, 'iterator used after close')
    try {
      position()
    } catch (err) {
      this.isValid = false
      this.data = undefined
      this.dataOffset = -1
      throw err
    }
  }

  /** Points `data` at the block of the current index entry; false when the index is exhausted. */
  private loadBlock(): boolean {
    if (!this.index.valid) {
      this.data = undefined
      this.dataOffset = -1
      return false
    }
    const handle = this.source.dataHandle(this.index.value)
    if (this.data === undefined || handle.offset !== this.dataOffset) {
      this.data = this.source.readDataBlock(handle).newIterator()
      this.dataOffset = handle.offset
    }
    return true
  }

  private skipForward(): void {
    while (this.data !== undefined && !this.data.valid) {
      this.index.next()
      if (this.loadBlock()) this.data.first()
    }
    this.settle()
  }

  private skipBackward(): void {
    while (this.data !== undefined && !this.data.valid) {
      this.index.prev()
      if (this.loadBlock()) this.data.last()
    }
    this.settle()
  }

  /** Decodes the current internal key into key/seqno/kind. */
  private settle(): void {
    if (this.data === undefined || !this.data.valid) {
      this.isValid = false
      return
    }
    const internalKey = this.data.key
    const userBytes = internalKey.length - TRAILER_BYTES
    assert(userBytes >= 0, 'block iterator yields internal keys')
    const kind = internalKey[userBytes + 7] as number
    if (!isKeyKind(kind) || kind === KeyKind.RangeDelete) {
      throw corruption(`bad entry kind ${kind}`, this.source.fileName, this.dataOffset)
    }
    this.currentKey = internalKey.subarray(0, userBytes)
    this.currentSeqno = trailerSeqno(internalKey, userBytes)
    this.currentKind = kind
    this.isValid = true
  }
}
