/**
 * The data every workload is built from: keys, values, the seeded PRNG, and the bookkeeping that
 * lets a run check its own answers.
 *
 * Keys are 16 bytes (db_bench's default key size): the zero-padded decimal of a number, so byte
 * order is numeric order. A missing key (readmissing) is the 15-digit decimal of a number followed
 * by '.', which sorts between two loaded keys (inside every table's key range, so neither a
 * table's bounds nor an index can skip it; only a filter can) and is never loaded: loaded keys
 * are digits only. db_bench appends '.' to a 16-digit key for the same reason (17 bytes).
 *
 * Values are `sizeBytes` long and compress to about half, like db_bench's (half random printable
 * bytes, half a repeat of them). Every key and value handed to an engine is a fresh buffer.
 */

export const KEY_BYTES = 16
/** Size of the shared pool values are cut from; a power of two bigger than any L1/L2. */
const VALUE_POOL_BYTES = 1 << 20
const DIGIT_ZERO = 0x30
const MISSING_SUFFIX = 0x2e // '.': below '0', so "…123." sorts just before "…1230"

/** The 16-byte key of `n`: zero-padded decimal. */
export function formatKey(n: number): Buffer {
  const key = Buffer.allocUnsafe(KEY_BYTES)
  let rest = n
  for (let i = KEY_BYTES - 1; i >= 0; i--) {
    key[i] = DIGIT_ZERO + (rest % 10)
    rest = Math.floor(rest / 10)
  }
  if (rest !== 0) throw new RangeError(`key number ${n} does not fit ${KEY_BYTES} digits`)
  return key
}

/** A 16-byte key that no workload ever writes, sorting just before formatKey(n * 10). */
export function missingKey(n: number): Buffer {
  const key = Buffer.allocUnsafe(KEY_BYTES)
  key[KEY_BYTES - 1] = MISSING_SUFFIX
  let rest = n
  for (let i = KEY_BYTES - 2; i >= 0; i--) {
    key[i] = DIGIT_ZERO + (rest % 10)
    rest = Math.floor(rest / 10)
  }
  if (rest !== 0) throw new RangeError(`key number ${n} does not fit ${KEY_BYTES - 1} digits`)
  return key
}

/** The number a formatKey() key stands for, or -1 when `key` is not one. */
export function keyNumber(key: Uint8Array): number {
  if (key.length !== KEY_BYTES) return -1
  let n = 0
  for (let i = 0; i < KEY_BYTES; i++) {
    const digit = key[i]! - DIGIT_ZERO
    if (digit < 0 || digit > 9) return -1
    n = n * 10 + digit
  }
  return n
}

/** mulberry32: small, fast, seeded; the same generator as test/helpers/prng.ts. */
export class Mulberry32 {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0
  }
  /** Uniform 32-bit unsigned integer. */
  uint32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
  /** Integer in [0, n), n <= 2^32. */
  int(n: number): number {
    return Math.floor((this.uint32() / 4294967296) * n)
  }
  /** Double in [0, 1) with 53 random bits (YCSB draws its doubles this way). */
  float(): number {
    return (this.uint32() * 2097152 + (this.uint32() >>> 11)) / 9007199254740992
  }
}

/** Hands out fresh, half-compressible values cut from a seeded pool (db_bench RandomGenerator). */
export class ValueSource {
  private readonly pool: Buffer
  private offset = 0

  constructor(private readonly sizeBytes: number, seed: number) {
    if (sizeBytes < 0 || sizeBytes > VALUE_POOL_BYTES / 4) throw new RangeError(`value size ${sizeBytes} out of range`)
    const prng = new Mulberry32(seed ^ 0x5bd1e995)
    this.pool = Buffer.allocUnsafe(VALUE_POOL_BYTES)
    const half = Math.max(1, sizeBytes >> 1)
    for (let at = 0; at < VALUE_POOL_BYTES; at += half * 2) {
      for (let i = 0; i < half && at + i < VALUE_POOL_BYTES; i++) this.pool[at + i] = 0x20 + prng.int(95)
      this.pool.copyWithin(at + half, at, at + half)
    }
  }

  next(): Buffer {
    if (this.offset + this.sizeBytes > this.pool.length) this.offset = 0
    const value = Buffer.allocUnsafe(this.sizeBytes)
    this.pool.copy(value, 0, this.offset, this.offset + this.sizeBytes)
    this.offset += 97 // not a divisor of the pool: consecutive values differ
    return value
  }
}

/** Entries a verification reads back after a writing workload (not timed). */
const VERIFY_SAMPLE_ENTRIES = 1000

interface SampledKey {
  /** Writes of this key issued and not yet acknowledged. */
  inFlight: number
  /** Values the key may hold once every write is acknowledged: the last write issued while no
   *  other write of the key was in flight, and any issued while one was (engines may apply
   *  concurrent writes of one key in either order). */
  accepted: Buffer[]
}

/**
 * What a writing workload wrote: which key numbers exist (for the logical bytes that space and
 * write amplification divide by) and the values a sample of keys may hold, read back after the
 * timed part so a fast wrong answer fails the run.
 */
export class WrittenKeys {
  private readonly present: Uint8Array
  private readonly stride: number
  private readonly sampled = new Map<number, SampledKey>()
  /** Distinct key numbers written or loaded. */
  distinct = 0
  /** Entries written by the workload (a rewrite of a key counts again). */
  writes = 0

  /** `capacity` bounds the key numbers; `preloaded` keys [0, preloaded) exist already. */
  constructor(capacity: number, preloaded = 0) {
    this.present = new Uint8Array(capacity)
    this.present.fill(1, 0, preloaded)
    this.distinct = preloaded
    this.stride = Math.max(1, Math.floor(capacity / VERIFY_SAMPLE_ENTRIES))
  }

  /** Call when the write of `value` to key number `n` is issued. */
  issue(n: number, value: Buffer): void {
    this.writes++
    if (this.present[n] === 0) {
      this.present[n] = 1
      this.distinct++
    }
    if (n % this.stride !== 0) return
    const entry = this.sampled.get(n)
    if (entry === undefined) this.sampled.set(n, { inFlight: 1, accepted: [value] })
    else {
      if (entry.inFlight === 0) entry.accepted = [value]
      else entry.accepted.push(value)
      entry.inFlight++
    }
  }

  /** Call when the engine acknowledged the write to key number `n`. */
  acknowledge(n: number): void {
    if (n % this.stride !== 0) return
    const entry = this.sampled.get(n)
    if (entry !== undefined) entry.inFlight--
  }

  /** Key number -> the values it may hold, for the sampled keys. */
  sample(): ReadonlyMap<number, readonly Buffer[]> {
    return new Map([...this.sampled].map(([n, entry]) => [n, entry.accepted]))
  }
}
