/**
 * BlockCache: decoded (decompressed, checksum-verified) blocks keyed by (file number, block
 * offset), bounded by bytes (cache/lru.ts).
 *
 * Invariants:
 * - A cached block is exactly what BlockCodec.decode returned for that location; callers never
 *   mutate it.
 * - Keys are strings `<fileNumber>:<offset>` because fileNumber * 2^32 + offset is not safe for
 *   every file number and offsets may exceed 2^32.
 * - A per-file index of cached offsets is kept in step with the LRU (evictions included), so
 *   evictFile costs O(blocks of that file), not O(cache).
 * - File numbers are unique per tree only: use one BlockCache per tree.
 */
import { assert } from '../base/assert.js'
import { LruCache } from './lru.js'

export interface BlockCacheStats {
  capacityBytes: number
  usedBytes: number
  hits: number
  misses: number
  evictions: number
}

function cacheKey(fileNumber: number, offset: number): string {
  return `${fileNumber}:${offset}`
}

export class BlockCache {
  private readonly lru: LruCache<string, Buffer>
  /** fileNumber -> cached offsets of that file. */
  private readonly byFile = new Map<number, Set<number>>()

  constructor(capacityBytes: number) {
    assert(Number.isSafeInteger(capacityBytes) && capacityBytes >= 0, 'block cache capacity')
    const chargeOf = (block: Buffer) => block.length
    this.lru = new LruCache<string, Buffer>(capacityBytes, chargeOf, (key) => this.forget(key))
  }

  get(fileNumber: number, offset: number): Buffer | undefined {
    return this.lru.get(cacheKey(fileNumber, offset))
  }

  set(fileNumber: number, offset: number, block: Buffer): void {
    assert(Number.isSafeInteger(fileNumber) && fileNumber >= 0, 'file number')
    assert(Number.isSafeInteger(offset) && offset >= 0, 'block offset')
    const key = cacheKey(fileNumber, offset)
    this.lru.set(key, block)
    if (!this.lru.has(key)) {
      this.forget(key) // larger than the whole cache (or cache disabled); drop a replaced one
      return
    }
    let offsets = this.byFile.get(fileNumber)
    if (offsets === undefined) {
      offsets = new Set()
      this.byFile.set(fileNumber, offsets)
    }
    offsets.add(offset)
  }

  /** Drops every block of `fileNumber` (the table was deleted or is being closed). */
  evictFile(fileNumber: number): void {
    const offsets = this.byFile.get(fileNumber)
    if (offsets === undefined) return
    for (const offset of offsets) this.lru.delete(cacheKey(fileNumber, offset))
    this.byFile.delete(fileNumber)
  }

  stats(): BlockCacheStats {
    const s = this.lru.stats()
    return {
      capacityBytes: s.capacityBytes,
      usedBytes: s.usedBytes,
      hits: s.hits,
      misses: s.misses,
      evictions: s.evictions,
    }
  }

  private forget(key: string): void {
    const colon = key.indexOf(':')
    assert(colon > 0, 'block cache key shape')
    const fileNumber = Number(key.slice(0, colon))
    const offsets = this.byFile.get(fileNumber)
    if (offsets === undefined) return
    offsets.delete(Number(key.slice(colon + 1)))
    if (offsets.size === 0) this.byFile.delete(fileNumber)
  }
}
