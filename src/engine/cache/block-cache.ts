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

class Entry {
  /** Second-chance bit: set by a hit, cleared as the hand passes. */
  referenced = false
  prev: Entry = this
  next: Entry = this

  constructor(
    readonly fileNumber: number,
    readonly offset: number,
    readonly block: Block,
    readonly chargeBytes: number,
  ) {}
}

export class BlockCache {
  private readonly files = new Map<number, Map<number, Entry>>()
  /** Next entry the CLOCK hand examines; new entries go just behind it (examined last). */
  private hand: Entry | undefined = undefined
  private used = 0
  private count = 0
  private hitCount = 0
  private missCount = 0
  private evictionCount = 0

  constructor(readonly capacityBytes: number) {
    assert(Number.isSafeInteger(capacityBytes) && capacityBytes >= 0, 'block cache capacity')
  }

  /** The cached block, or undefined; counts a hit or a miss. */
  get(fileNumber: number, offset: number): Block | undefined {
    const entry = this.files.get(fileNumber)?.get(offset)
    if (entry === undefined) {
      this.missCount++
      return undefined
    }
    this.hitCount++
    entry.referenced = true
    return entry.block
  }

  /** Inserts or replaces; evicts until the budget holds. Requires: the block is never mutated. */
  set(fileNumber: number, offset: number, block: Block): void {
    assert(Number.isSafeInteger(fileNumber) && fileNumber >= 0, 'file number')
    assert(Number.isSafeInteger(offset) && offset >= 0, 'block offset')
    let blocks = this.files.get(fileNumber)
    const previous = blocks?.get(offset)
    if (previous !== undefined) this.remove(previous)
    const chargeBytes = blockChargeBytes(block)
    if (chargeBytes > this.capacityBytes) return
    if (blocks === undefined || blocks.size === 0) {
      blocks = new Map()
      this.files.set(fileNumber, blocks)
    }
    const entry = new Entry(fileNumber, offset, block, chargeBytes)
    blocks.set(offset, entry)
    this.link(entry)
    this.used += chargeBytes
    this.count++
    this.evictUntilWithinBudget()
    assert(this.used <= this.capacityBytes, 'block cache over budget after set')
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
    this.used -= entry.chargeBytes
    this.count--
    assert(this.used >= 0 && this.count >= 0, 'block cache accounting went negative')
  }
}
