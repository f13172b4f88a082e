/**
 * Seeded randomness for the sstable/codec/filter/cache tests (xorshift32). The seed comes from
 * STRATA_SEED when set, else from the clock, and every test prints it so a failure replays:
 *   STRATA_SEED=1234 npx tap test/engine/sstable/table.test.ts
 */
export class SeededRandom {
  private state: number

  constructor(readonly seed: number) {
    this.state = (seed >>> 0) || 0x9e3779b9
  }

  /** Uniform u32. */
  u32(): number {
    let x = this.state
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.state = x >>> 0
    return this.state
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n)
  }

  /** Integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1)
  }

  bool(p = 0.5): boolean {
    return this.u32() / 0x1_0000_0000 < p
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) out[i] = this.int(256)
    return out
  }

  /** Bytes from a small alphabet, so keys share prefixes and collide. */
  keyBytes(minLength: number, maxLength: number, alphabet = 4): Buffer {
    const n = this.range(minLength, maxLength)
    const out = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) out[i] = 0x61 + this.int(alphabet)
    return out
  }
}

/** The run's seed: STRATA_SEED or a fresh one; printed through `log`. */
export function seededRandom(log: (message: string) => void): SeededRandom {
  const env = process.env['STRATA_SEED']
  const seed = env !== undefined && env !== '' ? Number(env) >>> 0 : (Date.now() ^ (process.pid << 12)) >>> 0
  log(`seed ${seed} (replay with STRATA_SEED=${seed})`)
  return new SeededRandom(seed)
}
