/**
 * YCSB's key choosers, ported from its Java generators (site.ycsb.generator) so that a YCSB
 * workload here draws keys with the same distribution YCSB does, from a seeded PRNG:
 *
 * - ZipfianGenerator: Gray et al., "Quickly Generating Billion-Record Synthetic Databases"
 *   (SIGMOD 1994), as YCSB implements it, including its incremental zeta when the item count
 *   grows and its quirk of recomputing eta from the ORIGINAL item count.
 * - ScrambledZipfianGenerator: a zipfian over 10^10 items (theta 0.99, zeta precomputed by YCSB)
 *   whose draw is FNV-1a-64 hashed and reduced modulo the item count, so the popular items are
 *   spread over the key space instead of clustered at its start (YCSB's default chooser).
 * - SkewedLatestGenerator: the "latest" distribution of workload D: a zipfian distance back
 *   from the newest acknowledged insert.
 * - AcknowledgedCounter: insert key numbers handed out in order, and the highest number below
 *   which every insert has been acknowledged (reads never pick a key still in flight).
 */
import type { Mulberry32 } from './data.js'

/** YCSB's default zipfian constant (theta). */
export const ZIPFIAN_CONSTANT = 0.99
/** Items the scrambled generator draws from before hashing (YCSB ITEM_COUNT). */
const SCRAMBLED_ITEM_COUNT = 10_000_000_000
/** zeta(10^10, 0.99), as YCSB precomputes it (ScrambledZipfianGenerator.ZETAN). */
const SCRAMBLED_ZETAN = 26.46902820178302
/** Above this item count, (hash mod n) would lose exactness in doubles (n^2 must stay < 2^53). */
const SCRAMBLED_ITEMS_MAX = 94_906_265
const TWO_32 = 4294967296

/** sum over i in [from, to) of 1 / (i + 1)^theta, added to `initial` (YCSB zetastatic). */
export function zeta(from: number, to: number, theta: number, initial: number): number {
  let sum = initial
  for (let i = from; i < to; i++) sum += 1 / Math.pow(i + 1, theta)
  return sum
}

export class ZipfianGenerator {
  private readonly items: number
  private readonly base: number
  private readonly alpha: number
  private readonly zeta2theta: number
  private zetan: number
  private eta: number
  private countForZeta: number

  /** Items min..max inclusive; `zetan` when precomputed (it costs O(items) otherwise). */
  constructor(min: number, max: number, private readonly theta: number, private readonly prng: Mulberry32, zetan?: number) {
    if (!(max >= min)) throw new RangeError(`zipfian over [${min}, ${max}]`)
    this.items = max - min + 1
    this.base = min
    this.zeta2theta = zeta(0, 2, theta, 0)
    this.alpha = 1 / (1 - theta)
    this.zetan = zetan ?? zeta(0, this.items, theta, 0)
    this.countForZeta = this.items
    this.eta = this.etaFor(this.items)
  }

  /** A draw over the first `itemCount` items (default: all); the count may only grow. */
  next(itemCount = this.items): number {
    if (itemCount !== this.countForZeta) {
      if (itemCount < this.countForZeta) throw new RangeError('the zipfian item count may only grow')
      this.zetan = zeta(this.countForZeta, itemCount, this.theta, this.zetan)
      this.countForZeta = itemCount
      this.eta = this.etaFor(this.items) // YCSB's quirk: eta from the original item count
    }
    const u = this.prng.float()
    const uz = u * this.zetan
    if (uz < 1) return this.base
    if (uz < 1 + Math.pow(0.5, this.theta)) return this.base + 1
    return this.base + Math.floor(itemCount * Math.pow(this.eta * u - this.eta + 1, this.alpha))
  }

  private etaFor(items: number): number {
    return (1 - Math.pow(2 / items, 1 - this.theta)) / (1 - this.zeta2theta / this.zetan)
  }
}

/**
 * FNV-1a 64 of the 8 little-endian bytes of `value` (0 <= value < 2^53), then |x| as a signed
 * 64-bit integer, modulo `modulus`: YCSB Utils.fnvhash64(value) % modulus, exactly, in doubles
 * (the 64-bit state is kept as two 32-bit halves).
 */
export function fnvHash64Mod(value: number, modulus: number): number {
  let hi = 0xcbf29ce4
  let lo = 0x84222325
  let rest = value
  for (let i = 0; i < 8; i++) {
    const octet = rest % 256
    rest = Math.floor(rest / 256)
    lo = (lo ^ octet) >>> 0
    // multiply by the FNV prime 2^40 + 0x1b3, modulo 2^64
    const low = lo * 0x1b3
    const carry = Math.floor(low / TWO_32)
    hi = (hi * 0x1b3 + carry + ((lo * 256) % TWO_32)) % TWO_32
    lo = low % TWO_32
  }
  if (hi >= 0x80000000) {
    // Math.abs of a negative long: two's complement negation
    hi = (TWO_32 - 1 - hi + (lo === 0 ? 1 : 0)) % TWO_32
    lo = (TWO_32 - lo) % TWO_32
  }
  return (((hi % modulus) * (TWO_32 % modulus)) % modulus + (lo % modulus)) % modulus
}

export class ScrambledZipfianGenerator {
  private readonly generator: ZipfianGenerator
  private readonly itemCount: number

  constructor(private readonly min: number, max: number, prng: Mulberry32) {
    this.itemCount = max - min + 1
    if (!(this.itemCount >= 1 && this.itemCount <= SCRAMBLED_ITEMS_MAX)) throw new RangeError(`scrambled zipfian over ${this.itemCount} items`)
    this.generator = new ZipfianGenerator(0, SCRAMBLED_ITEM_COUNT, ZIPFIAN_CONSTANT, prng, SCRAMBLED_ZETAN)
  }

  next(): number {
    return this.min + fnvHash64Mod(this.generator.next(), this.itemCount)
  }
}

/** Insert numbers handed out from `start`, acknowledged in any order (YCSB AcknowledgedCounterGenerator). */
export class AcknowledgedCounter {
  private nextNumber: number
  private limit: number
  private readonly acked: Uint8Array

  /** At most `capacity` numbers are handed out. */
  constructor(private readonly start: number, capacity: number) {
    this.nextNumber = start
    this.limit = start - 1
    this.acked = new Uint8Array(capacity)
  }

  next(): number {
    if (this.nextNumber - this.start >= this.acked.length) throw new RangeError('acknowledged counter capacity exceeded')
    return this.nextNumber++
  }

  acknowledge(n: number): void {
    this.acked[n - this.start] = 1
    while (this.limit + 1 < this.nextNumber && this.acked[this.limit + 1 - this.start] === 1) this.limit++
  }

  /** The highest number such that it and every number below it are acknowledged. */
  lastValue(): number {
    return this.limit
  }
}

/** Workload D's chooser: the newest acknowledged item minus a zipfian distance. */
export class SkewedLatestGenerator {
  private readonly zipfian: ZipfianGenerator

  constructor(private readonly basis: AcknowledgedCounter, prng: Mulberry32) {
    this.zipfian = new ZipfianGenerator(0, basis.lastValue() - 1, ZIPFIAN_CONSTANT, prng)
    this.next() // YCSB's constructor draws once
  }

  next(): number {
    const max = this.basis.lastValue()
    return max - this.zipfian.next(max)
  }
}
