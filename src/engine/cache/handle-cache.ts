/**
 * The table handle cache: bounds the file descriptors a tree holds (LevelDB max_open_files,
 * RocksDB's table cache). Each open table gets a PooledFile; its descriptor lives in an LRU of
 * at most `capacity` entries and is reopened synchronously (Vfs.openReadableSync, two
 * syscalls) by the first read after it was evicted.
 *
 * Why descriptors and not whole readers: a table's parsed index, filter and range tombstones
 * stay in memory (as RocksDB with cache_index_and_filter_blocks=false), so the synchronous read
 * path never re-parses a table and never waits; only the descriptor is recycled. Reads are
 * synchronous, so an eviction can never close a descriptor in the middle of a read.
 *
 * Invariants: at most `capacity` descriptors are open through this cache; a PooledFile reads
 * the same bytes as the file it was opened on (tables are immutable; a reopen checks the size).
 */
import { assert } from '../base/assert.js'
import { StrataError, ErrorCode } from '../errors.js'
import type { ReadableFile, Vfs } from '../vfs/vfs.js'

export interface HandleCacheStats {
  capacity: number
  open: number
  hits: number
  /** Reads that had to reopen an evicted descriptor. */
  reopens: number
  evictions: number
}

export class HandleCache {
  /**
   * Files with an open descriptor, in second-chance (CLOCK) order: a hit only sets the file's
   * `referenced` bit — no Map reorder on the read path (the per-read delete + set cost ~2% of a
   * cold get in the 1M profile, docs/benchmarks.md); eviction walks from the oldest, giving a
   * referenced file a second chance (bit cleared, moved to the back) before closing one.
   */
  private readonly ring = new Set<PooledFile>()
  private hits = 0
  private reopens = 0
  private evictions = 0

  constructor(
    private readonly vfs: Vfs,
    readonly capacity: number,
  ) {
    assert(Number.isInteger(capacity) && capacity >= 1, 'handle cache capacity >= 1')
  }

  /** Wraps a freshly opened file; its descriptor counts against the capacity from now. */
  adopt(path: string, file: ReadableFile): PooledFile {
    const pooled = new PooledFile(this, path, file.sizeBytes)
    this.insert(pooled, file)
    return pooled
  }

  /** The open descriptor of `pooled`, reopening it if it was evicted. */
  descriptor(pooled: PooledFile): ReadableFile {
    const open = pooled.open
    if (open !== undefined) {
      this.hits++
      pooled.referenced = true
      return open
    }
    const file = this.vfs.openReadableSync(pooled.path)
    if (file.sizeBytes !== pooled.sizeBytes) {
      void file.close().catch(() => undefined)
      throw new StrataError(
        ErrorCode.CORRUPTION,
        `table ${pooled.path.slice(pooled.path.lastIndexOf('/') + 1)} changed size on reopen (${pooled.sizeBytes} -> ${file.sizeBytes})`,
      )
    }
    this.reopens++
    this.insert(pooled, file)
    return file
  }

  /** Closes `pooled`'s descriptor, if open, and forgets it. */
  async release(pooled: PooledFile): Promise<void> {
    const open = pooled.open
    if (open === undefined) return
    pooled.open = undefined
    this.ring.delete(pooled)
    await open.close()
  }

  stats(): HandleCacheStats {
    return { capacity: this.capacity, open: this.ring.size, hits: this.hits, reopens: this.reopens, evictions: this.evictions }
  }

  private insert(pooled: PooledFile, file: ReadableFile): void {
    pooled.open = file
    pooled.referenced = false
    this.ring.add(pooled)
    while (this.ring.size > this.capacity) {
      const victim = this.ring.values().next().value as PooledFile
      this.ring.delete(victim)
      // The file being inserted is never the victim (its descriptor is about to be read); a
      // referenced one gets a second chance. Both go to the back; the loop ends within two passes
      // because every bit it passes is cleared and size > capacity >= 1 leaves another file.
      if (victim === pooled || victim.referenced) {
        victim.referenced = false
        this.ring.add(victim)
        continue
      }
      const descriptor = victim.open!
      victim.open = undefined
      this.evictions++
      // Descriptor closes are synchronous at their start for the node Vfs (closeSync); an
      // error closing a read-only descriptor loses nothing, so it is ignored.
      void descriptor.close().catch(() => undefined)
    }
  }
}

/** A ReadableFile whose descriptor the HandleCache may close and reopen between reads. */
export class PooledFile implements ReadableFile {
  #closed = false
  /** The open descriptor, while the HandleCache holds one (owned by the cache). */
  open: ReadableFile | undefined = undefined
  /** CLOCK bit: read since the cache last looked at it. */
  referenced = false

  constructor(
    private readonly cache: HandleCache,
    readonly path: string,
    readonly sizeBytes: number,
  ) {}

  readAt(offset: number, length: number): Buffer {
    assert(!this.#closed, `readAt on closed table ${this.path}`)
    return this.cache.descriptor(this).readAt(offset, length)
  }

  readInto(offset: number, target: Uint8Array): void {
    assert(!this.#closed, `readInto on closed table ${this.path}`)
    const file = this.cache.descriptor(this)
    if (file.readInto !== undefined) file.readInto(offset, target)
    else target.set(file.readAt(offset, target.length))
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.cache.release(this)
  }
}
