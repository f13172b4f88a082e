/**
 * Reusable read buffers for archive streams.
 *
 * Why: a checkpoint streams as 1 MiB file reads. A fresh 1 MiB Buffer per read is external
 * memory to V8, and at tens of MiB/s that churn alone made the serving process run a full
 * (mark-compact) collection every ~0.5 s: measured with --trace-gc while one 256 MiB checkpoint
 * streamed at 25 MB/s, 23 mark-compacts against 0 with reused buffers, and those pauses were
 * what a leader's GET p99 paid during a follower's bootstrap (docs/benchmarks.md, Replication).
 *
 * Safety rule: a buffer goes back to the pool only through give(chunk) with the EXACT Buffer
 * object take() handed out, called by the last holder once nothing references the bytes any
 * more (a socket write's success callback, a compressor that copied its input). A copy, a slice
 * or a concatenation of a chunk is a different object: giving it is ignored, and the pooled
 * buffer behind it is simply never reused (the GC frees it). So a consumer that does not know
 * about the pool, or an error path that drops chunks, costs allocations, never correctness.
 */

/** Free buffers kept for reuse at most: the chunks one stream has in flight, times a few streams. */
export const CHUNK_POOL_BUFFERS_MAX = 16

export class ChunkPool {
  readonly #free: Buffer[] = []
  /**
   * Chunks handed out and not given back yet: the exact view -> its whole buffer. Weak, so a
   * chunk a consumer copied or dropped (an aborted stream) costs nothing once unreachable.
   */
  readonly #out = new WeakMap<Uint8Array, Buffer>()
  #created = 0
  #reused = 0

  constructor(
    readonly chunkBytes: number,
    readonly buffersMax: number = CHUNK_POOL_BUFFERS_MAX,
  ) {}

  /** A Buffer of `bytes` (<= chunkBytes to come from the pool) whose contents are undefined. */
  take(bytes: number): Buffer {
    if (bytes > this.chunkBytes) return Buffer.allocUnsafeSlow(bytes)
    let whole = this.#free.pop()
    if (whole !== undefined) this.#reused++
    else {
      whole = Buffer.allocUnsafeSlow(this.chunkBytes)
      this.#created++
    }
    const chunk = whole.subarray(0, bytes)
    this.#out.set(chunk, whole)
    return chunk
  }

  /** True when `chunk` is a chunk take() handed out and nobody gave back yet. */
  owns(chunk: unknown): chunk is Buffer {
    return chunk instanceof Uint8Array && this.#out.has(chunk)
  }

  /** Returns `chunk`'s buffer for reuse: call only once nothing reads the chunk any more. */
  give(chunk: Uint8Array): void {
    const whole = this.#out.get(chunk)
    if (whole === undefined) return // not ours, a copy or a slice, or given already
    this.#out.delete(chunk)
    if (this.#free.length < this.buffersMax) this.#free.push(whole)
  }

  /** Chunks handed out from a reused buffer (for tests and stats). */
  get reused(): number {
    return this.#reused
  }

  /** Buffers the pool allocated. */
  get created(): number {
    return this.#created
  }
}
