/**
 * The lifecycle of one measured run, and what it measures around the workload's timed part.
 *
 * A run gets a fresh temporary directory. A workload that reads loaded data gets a COPY of a
 * template directory the harness loaded once per (engine, run) with every key in [0, num) (random
 * order, batches of LOAD_BATCH_ENTRIES, then closed): so each read workload starts from the
 * engine's on-disk state, reopened, not from a warm memtable, and the load is neither timed nor
 * repeated per workload. Writes run with sync off unless the workload says otherwise.
 *
 * Measured around the timed part (the workload's own run(), including its read-back check):
 * - event-loop delay: perf_hooks.monitorEventLoopDelay at 1 ms resolution, p99 and max;
 * - bytes written: /proc/self/io write_bytes before the timed part and after close (so a flush
 *   the engine does at close counts): bytes this process, all its threads included, caused to be
 *   written to storage (page-granular; not reduced by files deleted before writeback). Absent
 *   where /proc/self/io is not readable (not Linux);
 * - disk: the allocated bytes (st_blocks) of the database directory right after the timed part,
 *   engine open;
 * - peak RSS: the process's maxRSS after close (with one run per child process: this run's peak).
 */
import { cp, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { RunSpec, Workload } from './checks.js'
import { KEY_BYTES, Mulberry32, ValueSource, formatKey } from './data.js'
import type { Measured } from './drivers.js'
import type { BenchEngine, EngineFactory } from './engines/types.js'

/** Entries per batch when loading data for read workloads (~120 KB per batch). */
const LOAD_BATCH_ENTRIES = 1000
/** monitorEventLoopDelay resolution: the smallest delay it can see. */
const EVENT_LOOP_RESOLUTION_MS = 1

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
  maxRssBytes: number
  /** Allocated bytes of the database directory right after the timed part. */
  diskBytes: number
  /** Live entries x (key + value bytes): what the disk figure is amplification of. */
  logicalBytes: number
  /** Storage writes from the start of the timed part to the end of close; undefined off Linux. */
  writtenBytes: number | undefined
  /** Entries the timed part wrote x (key + value bytes): what writtenBytes is amplification of. */
  logicalWrittenBytes: number
  eventLoopP99Ms: number
  eventLoopMaxMs: number
}

/** Loads every key in [0, num) in a seeded random order, in batches. */
export async function loadAll(engine: BenchEngine, spec: RunSpec): Promise<void> {
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

/** Creates `dir` holding every key in [0, num), engine closed (a template for read workloads). */
export async function loadTemplate(factory: EngineFactory, spec: RunSpec, dir: string): Promise<void> {
  const engine = await factory.open(dir, { sync: false })
  try {
    await loadAll(engine, spec)
  } finally {
    await engine.close()
  }
}

/** Allocated bytes of the files under `dir`. The engine is open, so a file may vanish (an
 *  obsolete table or log removed by a background compaction) between readdir and stat: it counts 0. */
export async function directoryBytes(dir: string): Promise<number> {
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
    return (await stat(path)).blocks * 512
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw error
  }
}

/** write_bytes of /proc/self/io (every thread of this process), or undefined where unreadable. */
export async function processWriteBytes(): Promise<number | undefined> {
  try {
    const match = /^write_bytes:\s*(\d+)$/m.exec(await readFile('/proc/self/io', 'utf8'))
    return match === null ? undefined : Number(match[1])
  } catch {
    return undefined
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

/**
 * One measured run of `workload` on a fresh engine in a fresh temporary directory. A workload
 * that needs data runs on a copy of `template` (loaded here, untimed, when none is given).
 */
export async function runOnce(factory: EngineFactory, workload: Workload, spec: RunSpec, template?: string): Promise<RunResult> {
  const root = await mkdtemp(join(tmpdir(), `strata-bench-${factory.name}-`))
  const dir = join(root, 'db')
  try {
    if (workload.needsData) {
      if (template !== undefined) await cp(template, dir, { recursive: true })
      else await loadTemplate(factory, spec, dir)
    }
    const engine = await factory.open(dir, { sync: workload.sync === true })
    const writtenBefore = await processWriteBytes()
    const loop = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS })
    let measured: Measured
    let diskBytes: number
    try {
      loop.enable()
      measured = await profiled(spec.profileDir, `${workload.name}-${factory.name}`, () => workload.run(engine, spec))
      loop.disable()
      diskBytes = await directoryBytes(dir)
    } finally {
      loop.disable()
      await engine.close()
    }
    const writtenAfter = await processWriteBytes()
    const sorted = Float64Array.from(measured.latencyNs).sort()
    const elapsedMs = Number(measured.elapsedNs) / 1e6
    const entryBytes = KEY_BYTES + spec.valueSizeBytes
    return {
      workload: workload.name,
      engine: factory.name,
      ops: measured.ops,
      elapsedMs,
      opsPerSec: measured.ops / (elapsedMs / 1000),
      p50Us: percentileUs(sorted, 0.5),
      p99Us: percentileUs(sorted, 0.99),
      mode: measured.mode,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      diskBytes,
      logicalBytes: measured.liveEntries * entryBytes,
      writtenBytes: writtenBefore === undefined || writtenAfter === undefined ? undefined : writtenAfter - writtenBefore,
      logicalWrittenBytes: measured.entriesWritten * entryBytes,
      eventLoopP99Ms: loop.count === 0 ? 0 : loop.percentile(99) / 1e6,
      eventLoopMaxMs: loop.count === 0 ? 0 : loop.max / 1e6,
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}
