/**
 * A byte-bounded LRU map (leveldb util/cache.cc idea; a JS Map keeps insertion order, so the
 * first key is the least recently used and a hit re-inserts at the end).
 *
 * Invariants:
 * - usedBytes = sum over entries of (chargeOf(value) + LRU_ENTRY_OVERHEAD_BYTES) <= capacity
 *   after every call.
 * - An entry whose charge alone exceeds the capacity is not kept (capacity 0 disables the cache).
 * - Values are immutable from the cache's point of view; evicting one only drops the reference
 *   (a reader still holding it keeps it alive), so no pin counts are needed.
 */
import { assert } from '../base/assert.js'

/** Rough V8 cost of one entry besides its value: Map slot, key, Buffer object header. */
export const LRU_ENTRY_OVERHEAD_BYTES = 128

export interface LruStats {
  capacityBytes: number
  usedBytes: number
  entries: number
  hits: number
  misses: number
  evictions: number
}

interface Slot<V> {
  value: V
  chargeBytes: number
}

export class LruCache<K, V> {
  private readonly map = new Map<K, Slot<V>>()
  private used = 0
  private hitCount = 0
  private missCount = 0
  private evictionCount = 0

  /**
   * @param chargeOf bytes a value costs (e.g. its length); the fixed overhead is added.
   * @param onEvict called for entries dropped to make room (not for delete/clear/replace).
   */
  constructor(
    readonly capacityBytes: number,
    private readonly chargeOf: (value: V) => number,
    private readonly onEvict?: (key: K, value: V) => void,
  ) {
    assert(Number.isSafeInteger(capacityBytes), 'capacity must be an integer')
    assert(capacityBytes >= 0, 'capacity must be non-negative')
  }

  get usedBytes(): number {
    return this.used
  }

  get size(): number {
    return this.map.size
  }

  /** The value, refreshed as most recently used; counts a hit or a miss. */
  get(key: K): V | undefined {
    const slot = this.map.get(key)
    if (slot === undefined) {
      this.missCount++
      return undefined
    }
    this.hitCount++
    this.map.delete(key)
    this.map.set(key, slot)
    return slot.value
  }

  has(key: K): boolean {
    return this.map.has(key)
  }

  /** Inserts or replaces; evicts least recently used entries until the budget holds. */
  set(key: K, value: V): void {
    const chargeBytes = this.chargeOf(value) + LRU_ENTRY_OVERHEAD_BYTES
    assert(Number.isSafeInteger(chargeBytes) && chargeBytes > 0, 'charge must be a positive integer')
    this.delete(key)
    if (chargeBytes > this.capacityBytes) return
    this.map.set(key, { value, chargeBytes })
    this.used += chargeBytes
    this.evictUntilWithinBudget()
    assert(this.used <= this.capacityBytes, 'lru over budget after set')
  }

  delete(key: K): boolean {
    const slot = this.map.get(key)
    if (slot === undefined) return false
    this.map.delete(key)
    this.used -= slot.chargeBytes
    assert(this.used >= 0, 'lru used bytes went negative')
    return true
  }

  clear(): void {
    this.map.clear()
    this.used = 0
  }

  stats(): LruStats {
    return {
      capacityBytes: this.capacityBytes,
      usedBytes: this.used,
      entries: this.map.size,
      hits: this.hitCount,
      misses: this.missCount,
      evictions: this.evictionCount,
    }
  }

  private evictUntilWithinBudget(): void {
    while (this.used > this.capacityBytes) {
      const oldest = this.map.entries().next()
      assert(oldest.done !== true, 'over budget with no entries')
      const [key, slot] = oldest.value
      this.map.delete(key)
      this.used -= slot.chargeBytes
      this.evictionCount++
      this.onEvict?.(key, slot.value)
    }
  }
}
