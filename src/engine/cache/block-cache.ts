/**
 * BlockCache: parsed data blocks (checksum verified, decompressed, restart array validated)
 * keyed by (file number, block offset), bounded by the bytes they really pin, evicted by CLOCK.
 *
 * Why this shape (the 1M-entry read profile in docs/benchmarks.md): the previous LRU keyed by
 * `"file:offset"` strings built a string per lookup, deleted and re-inserted the Map entry on
 * every hit to keep recency order and re-parsed the block on every hit. Here a lookup is two
 * Map gets with small-integer keys, a hit only sets a reference bit (CLOCK, the second-chance
 * approximation of LRU that RocksDB's HyperClockCache and the Linux page cache use), and the
 * cached value is the parsed Block, so a hit does no parsing at all.
 *
 * Invariants:
 * - usedBytes = sum of entry charges <= capacityBytes after every call. A charge is the
 *   block's backing ArrayBuffer (what the block really keeps alive, not just its length) plus
 *   BLOCK_CACHE_ENTRY_OVERHEAD_BYTES of objects. A block whose charge exceeds the capacity is
 *   not kept (capacity 0 disables the cache).
 * - Every entry is both in `files` (file -> offset -> entry) and on the ring (a circular,
 *   intrusive doubly linked list the CLOCK hand walks); they are changed together.
 * - Keys: a two-level Map, because fileNumber * 2^32 + offset is not a safe integer for every
 *   file number and offsets may exceed 2^32. evictFile drops one inner Map: O(its blocks).
 * - Blocks are immutable; evicting one only drops the reference (a reader still holding it
 *   keeps it alive), so no pin counts are needed.
 * - File numbers are unique per tree only: use one BlockCache per tree.
 * - Slots (the hit path of TableReader): a reader may pass its own array and the block's index
 *   in it to `set`; the entry is then also at slots[slot] until it leaves the cache (unlink
 *   clears it), so a hit is one array load (`lookup`) instead of two Map gets.
 * - Recycling (the miss path): an entry set as `recyclable` holds a block that only point
 *   lookups have seen (they copy what they return before the next block is loaded). When CLOCK
 *   evicts such an entry and nothing marked it `escaped` (a hit through `get`, or a reader
 *   handing the block to an iterator, marks it), its ArrayBuffer goes to a small spare list and
 *   `takeSpare` hands it to the next miss to read into: no fresh 4 KiB allocation and no GC of
 *   the old one. A buffer of an escaped block, or of a block still cached, is never handed out.
 */
import { assert } from '../base/assert.js'
import type { Block } from '../sstable/block.js'

/**
 * V8 heap an entry costs besides its bytes: the ArrayBuffer object, the Buffer the codec read
 * into and the view it returned, the Block, this cache's Entry and its Map slot. Measured at
 * 360 B per entry on Node 20 (heapUsed delta over 20,000 cached 4 KiB blocks after a forced
 * GC; docs/benchmarks.md "Read path and memory work"), rounded up.
 */
export const BLOCK_CACHE_ENTRY_OVERHEAD_BYTES = 384

export interface BlockCacheStats {
  capacityBytes: number
  usedBytes: number
  entries: number
  hits: number
  misses: number
  evictions: number
}

/** Bytes `block` pins while cached: its whole backing store plus the fixed overhead. */
export function blockChargeBytes(block: Block): number {
  return block.data.buffer.byteLength + BLOCK_CACHE_ENTRY_OVERHEAD_BYTES
}

/** A reader's direct index into the cache: slot i holds the entry of its block i, or undefined. */
export type BlockSlots = (CachedBlock | undefined)[]

/** Spare buffers kept for the next misses: a miss takes one, an eviction gives one back. */
const SPARES_MAX = 8

export class CachedBlock {
  /** Second-chance bit: set by a hit, cleared as the hand passes. */
  referenced = false
  prev: CachedBlock = this
  next: CachedBlock = this
  /** The block was handed beyond a point lookup (an iterator, a keyed get): never recycled. */
  escaped: boolean

  constructor(
    readonly fileNumber: number,
    readonly offset: number,
    readonly block: Block,
    readonly chargeBytes: number,
    readonly slots: BlockSlots | undefined,
    readonly slot: number,
    recyclable: boolean,
  ) {
    this.escaped = !recyclable
  }
}
type Entry = CachedBlock

export class BlockCache {
  private readonly files = new Map<number, Map<number, Entry>>()
  /** Next entry the CLOCK hand examines; new entries go just behind it (examined last). */
  private hand: Entry | undefined = undefined
  private used = 0
  private count = 0
  private hitCount = 0
  private missCount = 0
  private evictionCount = 0
  private recycledCount = 0
  /** Backing stores of evicted, never-escaped blocks, free to be read into (see the file comment). */
  private readonly spares: ArrayBuffer[] = []

  constructor(readonly capacityBytes: number) {
    assert(Number.isSafeInteger(capacityBytes) && capacityBytes >= 0, 'block cache capacity')
  }

  /** The cached block, or undefined; counts a hit or a miss. The block may be kept by the caller. */
  get(fileNumber: number, offset: number): Block | undefined {
    const entry = this.files.get(fileNumber)?.get(offset)
    if (entry === undefined) {
      this.missCount++
      return undefined
    }
    this.hitCount++
    entry.referenced = true
    entry.escaped = true
    return entry.block
  }

  /**
   * The entry a reader's slot holds (set with those slots), or undefined; counts a hit or a
   * miss. The caller marks it `escaped` if the block outlives a point lookup.
   */
  lookup(slots: BlockSlots, slot: number): CachedBlock | undefined {
    const entry = slots[slot]
    if (entry === undefined) {
      this.missCount++
      return undefined
    }
    this.hitCount++
    entry.referenced = true
    return entry
  }

  /**
   * A spare backing store of byteLength in [minBytes, maxBytes] (a recycled, evicted block's),
   * or undefined. The caller owns it: nothing else references it.
   */
  takeSpare(minBytes: number, maxBytes: number): ArrayBuffer | undefined {
    const spares = this.spares
    for (let i = spares.length - 1; i >= 0; i--) {
      const spare = spares[i]!
      const bytes = spare.byteLength
      if (bytes >= minBytes && bytes <= maxBytes) {
        spares[i] = spares[spares.length - 1]!
        spares.pop()
        this.recycledCount++
        return spare
      }
    }
    return undefined
  }

  /** Returns a buffer taken with takeSpare and not kept (the block was not cached after all). */
  giveSpare(spare: ArrayBuffer): void {
    if (this.spares.length < SPARES_MAX) this.spares.push(spare)
  }

  /** Blocks read into a recycled buffer so far (tests and profiling). */
  get recycled(): number {
    return this.recycledCount
  }

  /**
   * Inserts or replaces; evicts until the budget holds. Requires: the block is never mutated.
   * With `slots`, the entry is also kept at slots[slot] while cached (see the file comment);
   * `recyclable` says only point lookups will see the block (its buffer may be reused after
   * eviction). Returns the entry, or undefined when the block was not kept (oversize).
   */
  set(
    fileNumber: number, offset: number, block: Block, slots?: BlockSlots, slot = 0, recyclable = false,
  ): CachedBlock | undefined {
    assert(Number.isSafeInteger(fileNumber) && fileNumber >= 0, 'file number')
    assert(Number.isSafeInteger(offset) && offset >= 0, 'block offset')
    let blocks = this.files.get(fileNumber)
    const previous = blocks?.get(offset)
    if (previous !== undefined) this.remove(previous)
    const chargeBytes = blockChargeBytes(block)
    if (chargeBytes > this.capacityBytes) return undefined
    if (blocks === undefined || blocks.size === 0) {
      blocks = new Map()
      this.files.set(fileNumber, blocks)
    }
    const entry = new CachedBlock(fileNumber, offset, block, chargeBytes, slots, slot, recyclable)
    blocks.set(offset, entry)
    if (slots !== undefined) {
      const old = slots[slot]
      if (old !== undefined) this.remove(old)
      slots[slot] = entry
    }
    this.link(entry)
    this.used += chargeBytes
    this.count++
    this.evictUntilWithinBudget()
    assert(this.used <= this.capacityBytes, 'block cache over budget after set')
    return entry
  }

  /** Drops every block of `fileNumber` (the table was deleted or is being closed). */
  evictFile(fileNumber: number): void {
    const blocks = this.files.get(fileNumber)
    if (blocks === undefined) return
    for (const entry of blocks.values()) this.unlink(entry)
    this.files.delete(fileNumber)
  }

  stats(): BlockCacheStats {
    return {
      capacityBytes: this.capacityBytes,
      usedBytes: this.used,
      entries: this.count,
      hits: this.hitCount,
      misses: this.missCount,
      evictions: this.evictionCount,
    }
  }

  /** CLOCK: a referenced entry gets a second chance (bit cleared), an unreferenced one goes. */
  private evictUntilWithinBudget(): void {
    while (this.used > this.capacityBytes) {
      const victim = this.hand
      assert(victim !== undefined, 'over budget with no entries')
      if (victim.referenced) {
        victim.referenced = false
        this.hand = victim.next
        continue
      }
      this.remove(victim)
      this.evictionCount++
      if (!victim.escaped && this.spares.length < SPARES_MAX) this.spares.push(victim.block.data.buffer as ArrayBuffer)
    }
  }

  /** Removes `entry` from both structures. */
  private remove(entry: Entry): void {
    const blocks = this.files.get(entry.fileNumber)
    assert(blocks?.get(entry.offset) === entry, 'cache entry indexed by its file')
    blocks.delete(entry.offset)
    if (blocks.size === 0) this.files.delete(entry.fileNumber)
    this.unlink(entry)
  }

  /** Puts `entry` just behind the hand: the last one the hand reaches. */
  private link(entry: Entry): void {
    const hand = this.hand
    if (hand === undefined) {
      entry.prev = entry
      entry.next = entry
      this.hand = entry
      return
    }
    entry.next = hand
    entry.prev = hand.prev
    hand.prev.next = entry
    hand.prev = entry
  }

  /** Takes `entry` off the ring and out of the accounting (not out of `files`). */
  private unlink(entry: Entry): void {
    if (entry.next === entry) {
      assert(this.hand === entry && this.count === 1, 'a lone entry is the hand')
      this.hand = undefined
    } else {
      if (this.hand === entry) this.hand = entry.next
      entry.prev.next = entry.next
      entry.next.prev = entry.prev
    }
    entry.prev = entry
    entry.next = entry
    const slots = entry.slots
    if (slots !== undefined && slots[entry.slot] === entry) slots[entry.slot] = undefined
    this.used -= entry.chargeBytes
    this.count--
    assert(this.used >= 0 && this.count >= 0, 'block cache accounting went negative')
  }
}
