/**
 * Seeded PRNG for randomized tests (mulberry32). Every randomized test takes its seed from
 * STRATA_SEED when set, else from the clock, and prints it so a failure can be replayed:
 *   STRATA_SEED=1234 npx tap test/engine/model/model.test.ts
 */
export class Prng {
  private state: number

  constructor(readonly seed: number) {
    this.state = seed >>> 0
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** Integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1)
  }

  bool(p = 0.5): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) out[i] = this.int(256)
    return out
  }
}

/** The seed for this run: STRATA_SEED, or a fresh one. */
export function testSeed(): number {
  const env = process.env['STRATA_SEED']
  if (env !== undefined && env !== '') return Number(env) >>> 0
  return (Date.now() ^ (process.pid << 16)) >>> 0
}

/** Size knob for long randomized runs: STRATA_TEST_SCALE (default 1 = the CI size). */
export function testScale(): number {
  const v = Number(process.env['STRATA_TEST_SCALE'] ?? '1')
  return Number.isFinite(v) && v > 0 ? v : 1
}
