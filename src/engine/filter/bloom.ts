/**
 * LevelDB-style Bloom filter over user keys (leveldb util/bloom.cc shape, written afresh):
 * one 32-bit hash per key, k probes by double hashing (h += delta, delta = rotr(h, 17)).
 *
 * Serialized filter (the bytes after the filter block's type byte):
 *
 *   +--------------------------------------------+--------+
 *   | bit array (m = 8 * bytes bits, m >= 64)     | k u8   |
 *   +--------------------------------------------+--------+
 *   bit i lives in byte i >> 3 at position i & 7 (LSB first)
 *
 * Invariants:
 * - No false negatives: every key added answers true.
 * - k = round(bitsPerKey * ln 2) clamped to 1..30; a stored k above 30 is reserved for other
 *   encodings and answers "may contain" (never a false negative).
 * - The hash function is part of the on-disk format: DO NOT CHANGE bloomHash.
 */
import { assert } from '../base/assert.js'

/** Seed of the bloom hash (leveldb BloomHash); part of the format. */
const BLOOM_HASH_SEED = 0xbc9f1d34
/** Fewer bits than this gives a very high false-positive rate for tiny tables. */
const BLOOM_BITS_MIN = 64
/** Probes beyond 30 cost time and buy nothing at sane bits/key; >30 is reserved (leveldb). */
export const BLOOM_PROBES_MAX = 30
/** Bits per key beyond this waste space: 30 probes already reach ~1e-9 false positives. */
export const BLOOM_BITS_PER_KEY_MAX = 64

/**
 * 32-bit hash of `data` (leveldb util/hash.cc: murmur-like, 4 bytes at a time, LE words).
 * DO NOT CHANGE: on disk (bloom filters).
 */
export function hash32(data: Uint8Array, seed: number): number {
  const m = 0xc6a4a793
  const n = data.length
  let h = (seed ^ Math.imul(n, m)) >>> 0
  let i = 0
  for (; i + 4 <= n; i += 4) {
    const w = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) >>> 0
    h = (h + w) >>> 0
    h = Math.imul(h, m) >>> 0
    h = (h ^ (h >>> 16)) >>> 0
  }
  const rest = n - i
  if (rest > 0) {
    if (rest === 3) h = (h + (data[i + 2]! << 16)) >>> 0
    if (rest >= 2) h = (h + (data[i + 1]! << 8)) >>> 0
    h = (h + data[i]!) >>> 0
    h = Math.imul(h, m) >>> 0
    h = (h ^ (h >>> 24)) >>> 0
  }
  return h
}

/** The hash a Bloom filter stores for `userKey`. */
export function bloomHash(userKey: Uint8Array): number {
  return hash32(userKey, BLOOM_HASH_SEED)
}

/** Number of probes for `bitsPerKey`: round(bitsPerKey * ln 2), clamped to 1..30. */
export function bloomProbes(bitsPerKey: number): number {
  const k = Math.round(bitsPerKey * Math.LN2)
  return Math.min(BLOOM_PROBES_MAX, Math.max(1, k))
}

/**
 * Builds a filter from the hashes (bloomHash) of the keys. Duplicated hashes are harmless.
 * Requires: 1 <= bitsPerKey <= BLOOM_BITS_PER_KEY_MAX.
 */
export function buildBloomFilter(keyHashes: ArrayLike<number>, bitsPerKey: number): Buffer {
  assert(Number.isInteger(bitsPerKey), 'bitsPerKey must be an integer')
  assert(bitsPerKey >= 1 && bitsPerKey <= BLOOM_BITS_PER_KEY_MAX, 'bitsPerKey out of range')
  const k = bloomProbes(bitsPerKey)
  const bytes = Math.ceil(Math.max(BLOOM_BITS_MIN, keyHashes.length * bitsPerKey) / 8)
  const bits = bytes * 8
  const out = Buffer.alloc(bytes + 1)
  for (let i = 0; i < keyHashes.length; i++) {
    let h = keyHashes[i]! >>> 0
    const delta = ((h >>> 17) | (h << 15)) >>> 0
    for (let j = 0; j < k; j++) {
      const bit = h % bits
      out[bit >>> 3] = out[bit >>> 3]! | (1 << (bit & 7))
      h = (h + delta) >>> 0
    }
  }
  out[bytes] = k
  assert(out.length === bytes + 1 && bits >= BLOOM_BITS_MIN, 'bloom layout')
  return out
}

/** False only if `userKey` was certainly not added to `filter`. */
export function bloomMayContain(filter: Uint8Array, userKey: Uint8Array): boolean {
  return bloomMayContainHash(filter, bloomHash(userKey))
}

/** bloomMayContain for a precomputed bloomHash. */
export function bloomMayContainHash(filter: Uint8Array, keyHash: number): boolean {
  const length = filter.length
  if (length < 2) return false
  const bits = (length - 1) * 8
  const k = filter[length - 1]!
  if (k > BLOOM_PROBES_MAX) return true
  let h = keyHash >>> 0
  const delta = ((h >>> 17) | (h << 15)) >>> 0
  for (let j = 0; j < k; j++) {
    const bit = h % bits
    if ((filter[bit >>> 3]! & (1 << (bit & 7))) === 0) return false
    h = (h + delta) >>> 0
  }
  return true
}

assert(hash32(new Uint8Array(0), BLOOM_HASH_SEED) === BLOOM_HASH_SEED, 'hash of empty input is the seed')
assert(bloomProbes(10) === 7, 'ten bits per key use seven probes')
