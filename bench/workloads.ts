/**
 * The benchmark workloads (db_bench semantics) and the lifecycle of one measured run.
 *
 * Keys are 16 bytes: the zero-padded decimal of a number in [0, num). Values are
 * `valueSizeBytes` long and compress to about half, like db_bench's (half random bytes, half a
 * repeat of them). Every key and value handed to an engine is a fresh buffer, made inside the
 * timed loop for every engine alike.
 *
 * Workloads:
 *   fillseq                num puts, keys 0..num-1 in order, one put awaited at a time
 *   fillrandom             num puts, keys drawn with replacement from a seeded PRNG, one at a time
 *   fillrandom-concurrent  as fillrandom, with CONCURRENCY puts in flight (group commit)
 *   readrandom             num reads of random existing keys, each engine's primary point read:
 *                          a sync loop when it is synchronous, else CONCURRENCY promises in flight
 *   readrandom-sync        as readrandom, through a synchronous read on every engine
 *   readseq                one full forward scan
 * Read workloads first load every key in [0, num) (random order, batches of LOAD_BATCH_ENTRIES),
 * then close and reopen the engine, so reads start from the engine's on-disk state, not from a
 * warm memtable; the load is not timed.
 *
 * Invariants of a run: a fresh empty directory per (workload, engine, run), removed afterwards;
 * writes run with sync off; a read workload that does not find every key it reads, or scans a
 * different number of entries than it loaded, throws (a fast wrong answer is not a result).
 */
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchEngine, EngineFactory } from './engines/types.js'

/** Key size fixed by the issue (db_bench's default key size). */
export const KEY_BYTES = 16
/** In-flight operations for the concurrent variants: enough to fill a group commit. */
export const CONCURRENCY = 64
/** Latency is sampled on every SAMPLE_EVERY-th op: two hrtime calls cost ~0.1 µs. */
export const SAMPLE_EVERY = 16
/** Entries per batch when loading data for read workloads (~120 KB per batch). */
const LOAD_BATCH_ENTRIES = 1000
/** Size of the shared pool values are cut from; a power of two bigger than any L1/L2. */
const VALUE_POOL_BYTES = 1 << 20

export interface RunSpec {
  num: number
  valueSizeBytes: number
  seed: number
  /** When set, the timed part (only) is CPU-profiled into <dir>/<workload>-<engine>-<time>.cpuprofile. */
  profileDir?: string
}

/** How a workload drives the engine, filled in by the workload itself for the report. */
export interface Measured {
  ops: number
  elapsedNs: bigint
  /** Sampled per-op latencies in nanoseconds; empty when latency is not per-op measurable. */
  latencyNs: number[]
  /** How operations were issued, e.g. 'one await at a time', '64 in flight', 'sync loop'. */
  mode: string
}

export interface Workload {
  readonly name: string
  /** Load every key in [0, num) and reopen before the timed part. */
  readonly needsData: boolean
  run(engine: BenchEngine, spec: RunSpec): Promise<Measured>
}

export interface RunResult {
  workload: string
  engine: string
  ops: number
  elapsedMs: number
  opsPerSec: number
  /** Undefined when the workload has no per-op latency (readseq). */
  p50Us: number | undefined
  p99Us: number | undefined
  mode: string
  /** process.resourceUsage().maxRSS after the timed part: the process's peak so far. */
  maxRssBytes: number
  /** Bytes of every file in the database directory right after the timed part (engine open). */
  diskBytes: number
}

/** The 16-byte key of `n`: zero-padded decimal. */
export function formatKey(n: number): Buffer {
  const key = Buffer.allocUnsafe(KEY_BYTES)
  let rest = n
  for (let i = KEY_BYTES - 1; i >= 0; i--) {
    key[i] = 0x30 + (rest % 10)
    rest = Math.floor(rest / 10)
  }
  if (rest !== 0) throw new RangeError(`key number ${n} does not fit ${KEY_BYTES} digits`)
  return key
}

/** mulberry32: small, fast, seeded; the same generator as test/helpers/prng.ts. */
export class Mulberry32 {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0
  }
  /** Integer in [0, n), n <= 2^32. */
  int(n: number): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n)
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

const now = (): bigint => process.hrtime.bigint()

/** Runs `count` ops with one awaited at a time, sampling latency. */
async function sequentialOps(count: number, op: (i: number) => Promise<void>): Promise<Measured> {
  const latencyNs: number[] = []
  const start = now()
  for (let i = 0; i < count; i++) {
    if (i % SAMPLE_EVERY !== 0) {
      await op(i)
      continue
    }
    const t0 = now()
    await op(i)
    latencyNs.push(Number(now() - t0))
  }
  return { ops: count, elapsedNs: now() - start, latencyNs, mode: 'one await at a time' }
}

/** Runs `count` ops with CONCURRENCY in flight (each worker awaits its own), sampling latency. */
async function concurrentOps(count: number, op: (i: number) => Promise<void>): Promise<Measured> {
  const latencyNs: number[] = []
  let nextIndex = 0
  const worker = async (): Promise<void> => {
    while (nextIndex < count) {
      const i = nextIndex++
      if (i % SAMPLE_EVERY !== 0) {
        await op(i)
        continue
      }
      const t0 = now()
      await op(i)
      latencyNs.push(Number(now() - t0))
    }
  }
  const start = now()
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker))
  return { ops: count, elapsedNs: now() - start, latencyNs, mode: `${CONCURRENCY} in flight` }
}

/** Runs `count` synchronous ops in a plain loop, sampling latency. */
function syncOps(count: number, op: (i: number) => void): Measured {
  const latencyNs: number[] = []
  const start = now()
  for (let i = 0; i < count; i++) {
    if (i % SAMPLE_EVERY !== 0) {
      op(i)
      continue
    }
    const t0 = now()
    op(i)
    latencyNs.push(Number(now() - t0))
  }
  return { ops: count, elapsedNs: now() - start, latencyNs, mode: 'sync loop' }
}

function checkFound(value: Buffer | undefined, spec: RunSpec): void {
  if (value === undefined) throw new Error('readrandom: a loaded key was not found')
  if (value.length !== spec.valueSizeBytes) throw new Error(`readrandom: value of ${value.length} bytes, expected ${spec.valueSizeBytes}`)
}

function fill(name: string, order: 'sequential' | 'random', concurrent: boolean): Workload {
  return {
    name,
    needsData: false,
    run(engine, spec) {
      const values = new ValueSource(spec.valueSizeBytes, spec.seed)
      const prng = new Mulberry32(spec.seed)
      const keyAt = order === 'sequential' ? (i: number) => i : () => prng.int(spec.num)
      const put = (i: number): Promise<void> => engine.put(formatKey(keyAt(i)), values.next())
      return concurrent ? concurrentOps(spec.num, put) : sequentialOps(spec.num, put)
    },
  }
}

function readRandom(name: string, forceSync: boolean): Workload {
  return {
    name,
    needsData: true,
    async run(engine, spec) {
      const prng = new Mulberry32(spec.seed + 1)
      const getSync = engine.getIsSync ? (k: Buffer) => engine.get(k) as Buffer | undefined : engine.getSync?.bind(engine)
      if (engine.getIsSync || forceSync) {
        if (getSync === undefined) throw new Error(`${name}: the engine has no synchronous read`)
        return syncOps(spec.num, () => checkFound(getSync(formatKey(prng.int(spec.num))), spec))
      }
      return concurrentOps(spec.num, async () => checkFound(await engine.get(formatKey(prng.int(spec.num))), spec))
    },
  }
}

const readSeq: Workload = {
  name: 'readseq',
  needsData: true,
  async run(engine, spec) {
    let badSizes = 0
    const start = now()
    const count = await engine.scan((key, value) => {
      if (key.length !== KEY_BYTES || value.length !== spec.valueSizeBytes) badSizes++
    })
    const elapsedNs = now() - start
    if (count !== spec.num) throw new Error(`readseq: scanned ${count} entries, loaded ${spec.num}`)
    if (badSizes !== 0) throw new Error(`readseq: ${badSizes} entries of the wrong size`)
    return { ops: count, elapsedNs, latencyNs: [], mode: 'full scan' }
  },
}

/** Every workload, in the order they run and print. */
export const WORKLOADS: readonly Workload[] = [
  fill('fillseq', 'sequential', false),
  fill('fillrandom', 'random', false),
  fill('fillrandom-concurrent', 'random', true),
  readRandom('readrandom', false),
  readRandom('readrandom-sync', true),
  readSeq,
]

/** Whether `engine` can run `workload` at all (readrandom-sync needs a synchronous read). */
export function supports(factory: EngineFactory, workload: string): boolean {
  return workload !== 'readrandom-sync' || factory.hasSyncGet
}

/** Loads every key in [0, num) in a seeded random order, in batches. */
async function loadAll(engine: BenchEngine, spec: RunSpec): Promise<void> {
  const order = new Uint32Array(spec.num)
  for (let i = 0; i < spec.num; i++) order[i] = i
  const prng = new Mulberry32(spec.seed ^ 0x9e3779b9)
  for (let i = spec.num - 1; i > 0; i--) {
    const j = prng.int(i + 1)
    const t = order[i]!
    order[i] = order[j]!
    order[j] = t
  }
  const values = new ValueSource(spec.valueSizeBytes, spec.seed)
  for (let at = 0; at < spec.num; at += LOAD_BATCH_ENTRIES) {
    const entries: [Buffer, Buffer][] = []
    for (let i = at; i < Math.min(at + LOAD_BATCH_ENTRIES, spec.num); i++) entries.push([formatKey(order[i]!), values.next()])
    await engine.batch(entries)
  }
}

/** Bytes of the files under `dir`. The engine is open, so a file may vanish (an obsolete table
 *  or log removed by a background compaction) between readdir and stat: it counts 0. */
async function directoryBytes(dir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) total += await directoryBytes(path)
    else if (entry.isFile()) total += await fileBytes(path)
  }
  return total
}

async function fileBytes(path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw error
  }
}

function percentileUs(sortedNs: Float64Array, fraction: number): number | undefined {
  if (sortedNs.length === 0) return undefined
  const index = Math.min(sortedNs.length - 1, Math.floor(fraction * sortedNs.length))
  return sortedNs[index]! / 1000
}

/** Runs `timed` under the V8 CPU profiler when `profileDir` is set (same format as --cpu-prof). */
async function profiled<T>(profileDir: string | undefined, name: string, timed: () => Promise<T>): Promise<T> {
  if (profileDir === undefined) return timed()
  const session = new Session()
  session.connect()
  try {
    await session.post('Profiler.enable')
    await session.post('Profiler.start')
    const result = await timed()
    const { profile } = await session.post('Profiler.stop')
    await writeFile(join(profileDir, `${name}-${Date.now()}.cpuprofile`), JSON.stringify(profile))
    return result
  } finally {
    session.disconnect()
  }
}

/** One measured run of `workload` on a fresh engine in a fresh temporary directory. */
export async function runOnce(factory: EngineFactory, workload: Workload, spec: RunSpec): Promise<RunResult> {
  const root = await mkdtemp(join(tmpdir(), `strata-bench-${factory.name}-`))
  const dir = join(root, 'db')
  try {
    let engine = await factory.open(dir, { sync: false })
    if (workload.needsData) {
      await loadAll(engine, spec)
      await engine.close()
      engine = await factory.open(dir, { sync: false })
    }
    let measured: Measured
    let diskBytes: number
    try {
      measured = await profiled(spec.profileDir, `${workload.name}-${factory.name}`, () => workload.run(engine, spec))
      diskBytes = await directoryBytes(dir)
    } finally {
      await engine.close()
    }
    const maxRssBytes = process.resourceUsage().maxRSS * 1024
    const sorted = Float64Array.from(measured.latencyNs).sort()
    const elapsedMs = Number(measured.elapsedNs) / 1e6
    return {
      workload: workload.name,
      engine: factory.name,
      ops: measured.ops,
      elapsedMs,
      opsPerSec: measured.ops / (elapsedMs / 1000),
      p50Us: percentileUs(sorted, 0.5),
      p99Us: percentileUs(sorted, 0.99),
      mode: measured.mode,
      maxRssBytes,
      diskBytes,
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}
