/**
 * A byte-rate budget (`--max-transfer-mbps`) shared by every transfer of one process: a token
 * bucket refilled continuously at `bytesPerSecond`, with a burst of at most one second's worth.
 * Transfers take tokens before passing bytes on; when the bucket is empty they wait, which
 * (over TCP) slows the other side too. So a bootstrap never starves foreground traffic (Redis
 * #5501 has no such limit; Kvrocks has max-replication-mb).
 */
import { Transform, type TransformCallback } from 'node:stream'

/** Megabits per second on the command line -> bytes per second. */
export function mbpsToBytesPerSecond(mbps: number): number {
  return Math.max(1, Math.floor((mbps * 1_000_000) / 8))
}

export class RateLimiter {
  readonly bytesPerSecond: number
  #tokens: number
  #last: number
  /** Waiters in arrival order: the budget is shared fairly enough between transfers. */
  #queue: Promise<void> = Promise.resolve()

  constructor(bytesPerSecond: number, private readonly now: () => number = () => performance.now()) {
    if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) throw new TypeError('bytesPerSecond must be positive')
    this.bytesPerSecond = bytesPerSecond
    this.#tokens = bytesPerSecond
    this.#last = now()
  }

  /** Resolves once `bytes` may be sent. */
  take(bytes: number): Promise<void> {
    const run = this.#queue.then(() => this.#takeNow(bytes))
    this.#queue = run
    return run
  }

  async #takeNow(bytes: number): Promise<void> {
    for (;;) {
      const now = this.now()
      this.#tokens = Math.min(this.bytesPerSecond, this.#tokens + ((now - this.#last) / 1000) * this.bytesPerSecond)
      this.#last = now
      // A chunk bigger than the burst goes through once the bucket is full, leaving it in debt.
      if (this.#tokens >= Math.min(bytes, this.bytesPerSecond)) {
        this.#tokens -= bytes
        return
      }
      const missing = Math.min(bytes, this.bytesPerSecond) - this.#tokens
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.ceil((missing / this.bytesPerSecond) * 1000))))
    }
  }
}

/** A pass-through stream that spends `limiter` tokens for every chunk (none: no limit). */
export function throttle(limiter: RateLimiter | undefined): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      if (limiter === undefined) return callback(null, chunk)
      limiter.take(chunk.length).then(() => callback(null, chunk), callback)
    },
  })
}
