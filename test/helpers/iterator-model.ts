/**
 * Test helpers for the memtable and iterator layers: a seeded PRNG (seed printed, overridable
 * with SEED=<n>), a brute-force model cursor over a sorted entry array, and a driver that
 * runs random cursor operations on an InternalIterator and on the model side by side.
 *
 * The model is deliberately plain (one binary search per seek over a sorted array) so that it
 * is obviously right.
 */
import type { Test } from 'tap'
import { KeyKind, MAX_SEQNO } from '../../src/engine/base/internal-key.js'
import type { InternalIterator } from '../../src/engine/iterator/internal-iterator.js'

export interface Entry {
  key: Buffer
  seqno: number
  kind: KeyKind
  value: Buffer
}

/** mulberry32: tiny, fast, good enough for test data. */
export class Random {
  #state: number
  constructor(seed: number) {
    this.#state = seed >>> 0
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const swap = items[i] as T
      items[i] = items[j] as T
      items[j] = swap
    }
    return items
  }
}

/** A seeded PRNG; the seed comes from SEED or the clock and is printed as a test comment. */
export function seededRandom(t: Test): Random {
  const fromEnv = process.env['SEED']
  const seed = fromEnv !== undefined ? Number(fromEnv) : Date.now() % 1_000_000_007
  t.comment(`seed ${seed} (rerun with SEED=${seed})`)
  return new Random(seed)
}

/** A small alphabet with shared prefixes and extreme bytes, so that order edge cases collide. */
export const KEY_ALPHABET: readonly Buffer[] = [
  Buffer.from([0x00]), Buffer.from('a'), Buffer.from('a\x00'), Buffer.from('aa'), Buffer.from('ab'),
  Buffer.from('abc'), Buffer.from('b'), Buffer.from('ba'), Buffer.from('c'), Buffer.from('cz'),
  Buffer.from('d'), Buffer.from([0x7f]), Buffer.from([0x80]), Buffer.from([0xff]), Buffer.from([0xff, 0xff]),
]

/** Internal order: user key ascending, seqno descending. */
export function compareEntries(a: { key: Uint8Array; seqno: number }, b: { key: Uint8Array; seqno: number }): number {
  const c = Buffer.compare(a.key, b.key)
  if (c !== 0) return c
  return b.seqno - a.seqno
}

export function describe(entry: Entry | undefined): string {
  if (entry === undefined) return '<invalid>'
  return `${entry.key.toString('hex')}#${entry.seqno}/${entry.kind}=${entry.value.toString('hex')}`
}

/** The iterator's current entry, or undefined when it is not valid. */
export function current(it: InternalIterator): Entry | undefined {
  if (!it.valid) return undefined
  return { key: it.key, seqno: it.seqno, kind: it.kind, value: it.value }
}

/** Every entry, walking forward from first(). */
export function collectForward(it: InternalIterator): Entry[] {
  const out: Entry[] = []
  for (it.first(); it.valid; it.next()) out.push(current(it) as Entry)
  return out
}

/** Every entry, walking backward from last(). */
export function collectBackward(it: InternalIterator): Entry[] {
  const out: Entry[] = []
  for (it.last(); it.valid; it.prev()) out.push(current(it) as Entry)
  return out
}

/** Brute-force cursor over a sorted array: the oracle. index -1 or length = invalid. */
export class ModelCursor {
  index = -1
  constructor(readonly entries: readonly Entry[]) {}
  get entry(): Entry | undefined {
    return this.entries[this.index]
  }
  seekGE(key: Uint8Array, seqno = MAX_SEQNO): void {
    this.index = this.#count((e) => compareEntries(e, { key, seqno }) < 0)
  }
  seekLT(key: Uint8Array): void {
    this.index = this.#count((e) => Buffer.compare(e.key, key) < 0) - 1
  }
  /** How many leading entries satisfy `below` (a prefix of the sorted array does). */
  #count(below: (e: Entry) => boolean): number {
    let low = 0
    let high = this.entries.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (below(this.entries[mid] as Entry)) low = mid + 1
      else high = mid
    }
    return low
  }
  first(): void {
    this.index = 0
  }
  last(): void {
    this.index = this.entries.length - 1
  }
  next(): void {
    this.index++
  }
  prev(): void {
    this.index--
  }
}

export type CursorOp =
  | { op: 'seekGE'; key: Buffer; seqno: number | undefined }
  | { op: 'seekLT'; key: Buffer }
  | { op: 'first' } | { op: 'last' } | { op: 'next' } | { op: 'prev' }

export function describeOp(op: CursorOp): string {
  if (op.op === 'seekGE') return `seekGE(${op.key.toString('hex')}, ${op.seqno ?? 'max'})`
  if (op.op === 'seekLT') return `seekLT(${op.key.toString('hex')})`
  return `${op.op}()`
}

export function applyOp(target: InternalIterator | ModelCursor, op: CursorOp): void {
  if (op.op === 'seekGE') target.seekGE(op.key, op.seqno)
  else if (op.op === 'seekLT') target.seekLT(op.key)
  else target[op.op]()
}

/** A random op; next/prev are favoured (and only chosen when the model is valid). */
export function randomOp(random: Random, keys: readonly Buffer[], seqnoMax: number, valid: boolean): CursorOp {
  const roll = random.int(10)
  if (valid && roll < 3) return { op: 'next' }
  if (valid && roll < 6) return { op: 'prev' }
  if (roll < 7) return { op: 'seekLT', key: random.pick(keys) }
  if (roll < 8) return { op: random.int(2) === 0 ? 'first' : 'last' }
  const seqno = random.int(3) === 0 ? undefined : random.int(seqnoMax + 2)
  return { op: 'seekGE', key: random.pick(keys), seqno }
}

/**
 * Runs `steps` random ops on `it` and on a model of `entries`, failing (once, with the op
 * history) at the first divergence. Returns whether they agreed throughout.
 */
export function agreesWithModel(
  t: Test, it: InternalIterator, entries: readonly Entry[], random: Random,
  options: { steps: number; keys: readonly Buffer[]; seqnoMax: number },
): boolean {
  const model = new ModelCursor(entries)
  const history: string[] = []
  for (let step = 0; step < options.steps; step++) {
    const op = randomOp(random, options.keys, options.seqnoMax, model.entry !== undefined)
    history.push(describeOp(op))
    applyOp(it, op)
    applyOp(model, op)
    const got = describe(current(it))
    const want = describe(model.entry)
    if (got !== want) {
      t.fail(`diverged after ${history.slice(-8).join(' ')}: got ${got}, want ${want}`)
      return false
    }
  }
  return true
}

export function entry(key: string | Buffer, seqno: number, kind: KeyKind = KeyKind.Put, value?: string): Entry {
  const k = typeof key === 'string' ? Buffer.from(key) : key
  return { key: k, seqno, kind, value: Buffer.from(value ?? `${k.toString('hex')}@${seqno}`) }
}
