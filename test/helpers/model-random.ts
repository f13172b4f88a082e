/**
 * Random workloads for the model tests: a small colliding key alphabet (1..8 bytes, rich in
 * 0x00 and 0xff), values and merge operands, random write ops and batches, random iterator
 * bounds, and a weighted step chooser that drives a ModelHarness.
 *
 * Everything draws from one seeded Prng, so a run is replayed exactly by its seed (given the
 * same STRATA_TEST_SCALE).
 */
import type { Tree, TreeStats } from '../../src/engine/index.js'
import { Prng } from './prng.js'
import { DRAIN_MODES, ModelHarness } from './model-driver.js'
import { counterBytes, type ModelOp, type ModelOperatorName, type ModelScanOptions } from './tree-model.js'

/** Bytes keys are drawn from: the extremes 0x00/0xff and their neighbours make ordering bugs show. */
const KEY_BYTE_POOL = [0x00, 0x01, 0x61, 0x62, 0x63, 0x7f, 0x80, 0xfe, 0xff] as const
/** Keys every alphabet holds: the edges of the key space. */
const EDGE_KEYS = [[0x00], [0x00, 0x00], [0xff], [0xff, 0xff], [0xff, 0xff, 0xff], [0xff, 0x00]] as const

/** `count` distinct keys of 1..8 bytes, ascending. */
export function makeKeyAlphabet(prng: Prng, count: number): Buffer[] {
  const seen = new Map<string, Buffer>()
  for (const k of EDGE_KEYS) seen.set(Buffer.from(k).toString('hex'), Buffer.from(k))
  while (seen.size < count) {
    const length = prng.bool(0.7) ? prng.range(1, 3) : prng.range(4, 8)
    const key = Buffer.alloc(length)
    for (let i = 0; i < length; i++) key[i] = prng.pick(KEY_BYTE_POOL)
    seen.set(key.toString('hex'), key)
  }
  return [...seen.values()].sort(Buffer.compare).slice(0, Math.max(count, 1))
}

export function randomValue(prng: Prng): Buffer {
  const r = prng.next()
  if (r < 0.1) return Buffer.alloc(0)
  if (r < 0.7) return prng.bytes(prng.range(1, 16))
  if (r < 0.95) return prng.bytes(prng.range(17, 200))
  return prng.bytes(prng.range(201, 1500)) // larger than a 256-byte block
}

export function randomOperand(prng: Prng, operator: ModelOperatorName): Buffer {
  switch (operator) {
    case 'counter': {
      if (prng.bool(0.05)) return counterBytes(prng.bool() ? 2n ** 63n - 1n : -(2n ** 63n)) // wraps
      return counterBytes(prng.range(-1000, 1000))
    }
    case 'append':
      return prng.bytes(prng.range(0, 12))
    case 'max':
      return prng.bytes(prng.range(0, 4))
  }
}

export interface Workload {
  prng: Prng
  keys: readonly Buffer[]
  operator: ModelOperatorName | undefined
  /** Probability that a random op is a merge (default 0.3) when there is an operator. */
  mergeShare?: number
}

/** A put value; on a counter tree often a valid counter, sometimes not (it then counts as 0). */
function putValue(w: Workload): Buffer {
  if (w.operator === 'counter' && w.prng.bool(0.6)) return counterBytes(w.prng.range(-50, 50))
  return randomValue(w.prng)
}

/** A range: usually a few neighbouring keys of the alphabet, sometimes empty or arbitrary. */
export function randomRange(w: Workload): { start: Buffer; end: Buffer } {
  const { prng, keys } = w
  if (prng.bool(0.05)) {
    const k = prng.pick(keys)
    return { start: k, end: k } // empty: deletes nothing
  }
  if (prng.bool(0.15)) {
    const a = prng.bytes(prng.range(1, 3))
    const b = prng.bytes(prng.range(1, 3))
    return Buffer.compare(a, b) <= 0 ? { start: a, end: b } : { start: b, end: a }
  }
  const i = prng.int(keys.length)
  const j = Math.min(keys.length - 1, i + prng.range(1, 6))
  return { start: keys[i]!, end: keys[j]! }
}

export function randomOp(w: Workload, allowRange = true): ModelOp {
  const { prng } = w
  const key = prng.pick(w.keys)
  const share = w.operator === undefined ? 0 : (w.mergeShare ?? 0.3)
  if (w.operator !== undefined && prng.bool(share)) return { type: 'merge', key, operand: randomOperand(prng, w.operator) }
  const r = prng.next()
  if (allowRange && r < 0.08) return { type: 'deleteRange', ...randomRange(w) }
  if (r < 0.35) return { type: 'delete', key }
  return { type: 'put', key, value: putValue(w) }
}

/** 1..20 mixed ops, often several on the same key. */
export function randomBatch(w: Workload): ModelOp[] {
  const { prng } = w
  const count = prng.range(1, 20)
  const hot = prng.pick(w.keys)
  const ops: ModelOp[] = []
  for (let i = 0; i < count; i++) {
    const op = randomOp(w)
    if (op.type !== 'deleteRange' && prng.bool(0.3)) ops.push({ ...op, key: hot } as ModelOp)
    else ops.push(op)
  }
  return ops
}

/** A bound: an alphabet key (exact hits), a prefix of one, or arbitrary bytes. */
function randomBound(w: Workload): Buffer {
  const { prng } = w
  const r = prng.next()
  if (r < 0.6) return prng.pick(w.keys)
  if (r < 0.8) {
    const k = prng.pick(w.keys)
    return k.subarray(0, prng.range(1, k.length))
  }
  return prng.bytes(prng.range(1, 3))
}

export function randomScanOptions(w: Workload, allowLimit = true): ModelScanOptions {
  const { prng } = w
  const options: ModelScanOptions = {}
  if (prng.bool(0.3)) options[prng.bool() ? 'gt' : 'gte'] = randomBound(w)
  if (prng.bool(0.3)) options[prng.bool() ? 'lt' : 'lte'] = randomBound(w)
  if (prng.bool(0.1)) {
    options.gt = randomBound(w) // both lower bounds: the stricter one wins
    options.gte = randomBound(w)
  }
  if (prng.bool(0.15)) {
    const r = prng.next()
    options.prefix = r < 0.2 ? Buffer.from([0xff, 0xff]) : r < 0.3 ? Buffer.from([0xff]) : randomBound(w)
  }
  if (prng.bool(0.5)) options.reverse = true
  if (allowLimit && prng.bool(0.2)) options.limit = prng.range(0, 20)
  return options
}

/** Relative weights of the actions of one step. */
export interface StepMix {
  write: number
  batch: number
  concurrent: number
  get: number
  scan: number
  seek: number
  snapshot: number
  release: number
  heldIterator: number
  flush: number
  compact: number
  reopen: number
}

export const DEFAULT_MIX: StepMix = {
  write: 40,
  batch: 10,
  concurrent: 4,
  get: 20,
  scan: 4,
  seek: 2,
  snapshot: 1.5,
  release: 1.2,
  heldIterator: 3,
  flush: 0.6,
  compact: 0.25,
  reopen: 0.2,
}

/** Held snapshots are capped so a full verification stays cheap. */
const SNAPSHOTS_HELD_MAX = 6
/** Held iterators are capped: each pins a Version and its files. */
const ITERATORS_HELD_MAX = 3

function chooseAction(prng: Prng, mix: StepMix): keyof StepMix {
  const names = Object.keys(mix) as (keyof StepMix)[]
  let r = prng.next() * names.reduce((n, k) => n + mix[k], 0)
  for (const name of names) {
    r -= mix[name]
    if (r < 0) return name
  }
  return 'get'
}

/** Performs one random action on the harness. */
export async function randomStep(h: ModelHarness, w: Workload, mix: StepMix): Promise<void> {
  const { prng } = w
  switch (chooseAction(prng, mix)) {
    case 'write':
      return h.write([randomOp(w)], false)
    case 'batch':
      return h.write(randomBatch(w), true)
    case 'concurrent': {
      const groups = Array.from({ length: prng.range(2, 8) }, () => (prng.bool() ? [randomOp(w, false)] : randomBatch(w)))
      const nonEmpty = groups.filter((g) => g.some((op) => op.type !== 'deleteRange' || Buffer.compare(op.start, op.end) < 0))
      const r = prng.next()
      return h.writeConcurrent(nonEmpty, r < 0.1 ? 'compact' : r < 0.25 ? 'flush' : undefined)
    }
    case 'get':
      if (prng.bool(0.6)) return h.checkGet(prng.pick(w.keys))
      if (prng.bool(0.1)) return h.checkUnavailable(prng)
      return h.checkGet(prng.pick(w.keys), h.readableSeqno(prng))
    case 'scan': {
      const options = randomScanOptions(w)
      if (prng.bool(0.4)) options.seqno = h.readableSeqno(prng)
      return h.checkScan(options, prng.pick(DRAIN_MODES))
    }
    case 'seek': {
      const options = randomScanOptions(w, false)
      if (prng.bool(0.3)) options.seqno = h.readableSeqno(prng)
      const targets = Array.from({ length: prng.range(1, 3) }, () => randomBound(w))
      return h.checkSeek(options, prng.range(0, 3), targets, prng.range(1, 8))
    }
    case 'snapshot':
      if (h.snapshots.length < SNAPSHOTS_HELD_MAX) h.takeSnapshot()
      return
    case 'release':
      if (h.snapshots.length > 0) h.releaseSnapshot(prng.int(h.snapshots.length))
      return
    case 'heldIterator':
      if (h.heldIterators < ITERATORS_HELD_MAX && prng.bool(0.3)) {
        const options = randomScanOptions(w)
        if (prng.bool(0.3)) options.seqno = h.readableSeqno(prng)
        h.openHeldIterator(options)
      } else if (h.heldIterators > 0) {
        h.advanceHeldIterator(prng.int(h.heldIterators), prng.range(1, 6))
      }
      return
    case 'flush':
      return h.flush()
    case 'compact':
      return h.compact()
    case 'reopen':
      return h.reopen()
  }
}

export interface ModelRunConfig {
  /** This run's seed (usually derived from the file's seed). */
  seed: number
  /** The STRATA_SEED that replays the test file, printed in failures. */
  replaySeed: number
  /** Random steps in total, spread over `phases`. */
  steps: number
  phases: number
  keyCount: number
  operator?: ModelOperatorName
  /** Opens the tree (same directory and vfs every time). */
  open: () => Promise<Tree>
  mix?: StepMix
  mergeShare?: number
}

export interface ModelRunSummary {
  steps: number
  seqno: number
  liveKeys: number
  /** Counted over the whole run (stats reset at each reopen, so these are sums). */
  flushes: number
  compactions: number
  reopens: number
  /** stats() of the tree just before the final close. */
  finalStats: TreeStats
}

/**
 * Runs `steps` random steps; after each phase it flushes, compacts, reopens or does nothing,
 * then compares everything with the model. Throws ModelMismatch (or the engine's error) on the
 * first difference.
 */
export async function runModel(config: ModelRunConfig): Promise<ModelRunSummary> {
  const prng = new Prng(config.seed)
  const w: Workload = { prng, keys: makeKeyAlphabet(prng, config.keyCount), operator: config.operator }
  if (config.mergeShare !== undefined) w.mergeShare = config.mergeShare
  const h = new ModelHarness({
    seed: config.seed,
    replaySeed: config.replaySeed,
    open: config.open,
    ...(config.operator ? { operator: config.operator } : {}),
  })
  const mix = config.mix ?? DEFAULT_MIX
  await h.start()
  try {
    const perPhase = Math.max(1, Math.ceil(config.steps / config.phases))
    while (h.step < config.steps) {
      for (let i = 0; i < perPhase && h.step < config.steps; i++, h.step++) {
        await randomStep(h, w, mix).catch((error: unknown) => h.rethrow(error))
      }
      const end = prng.next()
      await (async () => {
        if (end < 0.3) await h.flush()
        else if (end < 0.5) await h.compact()
        else if (end < 0.65) await h.reopen()
        await h.verifyAll()
      })().catch((error: unknown) => h.rethrow(error))
    }
    const finalStats = h.tree.stats()
    return {
      steps: h.step,
      seqno: h.tree.seqno,
      liveKeys: h.model.size,
      flushes: h.totals.flushes + finalStats.flushes,
      compactions: h.totals.compactions + finalStats.compactions,
      reopens: h.totals.reopens,
      finalStats,
    }
  } finally {
    await h.close().catch(() => undefined)
  }
}
