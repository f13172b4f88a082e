/**
 * compaction-sim: runs the compaction pickers on synthetic flush streams with no I/O (mini-lsm's
 * compaction-simulator) and prints write amplification, space amplification and L0 file
 * counts over time.
 *
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/compaction-sim.js   # all strategies
 *   node dist-bench/bench/compaction-sim.js --strategy leveled --workload random \
 *     --flushes 2000 --keys-per-flush 200 --key-space 50000 --concurrency 2 --seed 7
 *
 * Model. A table is a list of entries (key, seqno, tombstone?) sorted by key, then seqno
 * descending, each standing for `entryBytes`; sizes, ranges and seqnos of its TableMeta come
 * from that list. One tick = one memtable flushed to L0 (unless writeStall says stop; a
 * slowdown only counts). Every `snapshotEvery` ticks a snapshot is taken and held for
 * `snapshotTicks`. Up to `concurrency` compactions run at once: a picked merge holds its inputs
 * busy for ceil(input bytes / compactionBytesPerTick) ticks and then installs its result; moves
 * and drops install at once. A merge keeps, per key, the newest version in each snapshot
 * stripe (as the MVCC compaction stream does), drops a key's oldest kept versions while they
 * are tombstones when the task is bottommost, and writes one table to L0 or tables of
 * tableBytes to L1+, cut by size even between two versions of one key (so neighbours share
 * boundary keys, as real outputs may). Every result goes through applyEdit, which asserts the
 * Version invariants.
 *
 * Checks (SimulationResult.violations, empty when all is well): L0 age order (overlapping L0
 * tables have disjoint seqno ranges) after each install, and every key read through the
 * Version as the read path does (L0 newest first, then L1.. with the newest of the at most
 * two tables holding the key), at the newest seqno and at every live snapshot, against a
 * model of the writes (skipped for FIFO, which drops data by design).
 */
import { pathToFileURL } from 'node:url'
import { LEVEL_COUNT } from '../src/engine/options.js'
import { applyEdit } from '../src/engine/version/compose.js'
import type { TableMeta } from '../src/engine/version/file-metadata.js'
import { emptyEdit } from '../src/engine/version/version-edit.js'
import { Version } from '../src/engine/version/version.js'
import {
  DEFAULT_COMPACTION_OPTIONS, pickCompaction, writeStall,
  type CompactionOptions, type CompactionStrategyName, type CompactionTask,
} from '../src/engine/compaction/picker.js'

export type Workload = 'random' | 'sequential'

export interface SimulationSpec {
  options: CompactionOptions
  workload: Workload
  flushes: number
  keysPerFlush: number
  /** Keys are drawn from [0, keySpace) (random workload). */
  keySpace: number
  /** Share of writes that are point tombstones (random workload). */
  deleteFraction: number
  entryBytes: number
  concurrency: number
  compactionBytesPerTick: number
  /** Simulated wall-clock per tick, for FIFO's age cap. */
  tickMs: number
  /** Take a snapshot every this many ticks (0 = never) and release it after snapshotTicks. */
  snapshotEvery: number
  snapshotTicks: number
  seed: number
  /** Read back every key through the Version every this many ticks (0 = only at the end). */
  verifyEvery: number
}

export interface SimulationResult {
  strategy: CompactionStrategyName
  workload: Workload
  flushedBytes: number
  compactionWrittenBytes: number
  writeAmplification: number
  /** Table bytes / live data bytes at the end; the maximum over the samples. */
  spaceAmplification: number
  spaceAmplificationMax: number
  /** L0 file count after each tick. */
  level0Files: number[]
  stopTicks: number
  slowdownTicks: number
  tasks: Record<string, number>
  levelBytes: number[]
  violations: string[]
  ticks: number
}

interface Entry { key: number; seqno: number; tombstone: boolean }
interface Job { task: CompactionTask; doneTick: number }
/** A held snapshot and what a read at it must see (key -> newest entry at or below seqno). */
interface Snapshot { seqno: number; releaseTick: number; model: Map<number, Entry> }

/** Past this many idle ticks after the last flush the run is stuck: report it. */
const DRAIN_TICKS_MAX = 100_000

function keyBytes(n: number): Buffer {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(n, 0)
  return out
}

/** mulberry32, as in test/helpers/prng.ts. */
function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    let t = (state = (state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The newest version of `key` with seqno <= maxSeqno in a table's entries. */
function findEntry(entries: readonly Entry[], key: number, maxSeqno: number): Entry | undefined {
  let low = 0
  let high = entries.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if ((entries[middle] as Entry).key < key) low = middle + 1
    else high = middle
  }
  for (let i = low; i < entries.length && (entries[i] as Entry).key === key; i++) {
    if ((entries[i] as Entry).seqno <= maxSeqno) return entries[i]
  }
  return undefined
}

function byKeyThenNewest(a: Entry, b: Entry): number {
  return a.key - b.key || b.seqno - a.seqno
}

/** MVCC: per key, the newest version in each snapshot stripe; oldest tombstones go at the bottom. */
function compactVersions(versions: readonly Entry[], snapshots: readonly number[], bottommost: boolean): Entry[] {
  const kept: Entry[] = []
  let previousStripe = -1
  for (const entry of versions) {
    const stripe = snapshots.filter((seqno) => seqno < entry.seqno).length
    if (stripe !== previousStripe) kept.push(entry)
    previousStripe = stripe
  }
  while (bottommost && kept.length > 0 && (kept[kept.length - 1] as Entry).tombstone) kept.pop()
  return kept
}

class Simulation {
  version = Version.empty()
  readonly contents = new Map<number, Entry[]>()
  /** Numeric key range per table id, for fast L0 reads. */
  readonly ranges = new Map<number, [number, number]>()
  readonly latest = new Map<number, Entry>()
  readonly busy = new Set<number>()
  readonly running: Job[] = []
  snapshots: Snapshot[] = []
  readonly random: () => number
  nextId = 1
  seqno = 1
  tick = 0
  nextSequentialKey = 0
  readonly result: SimulationResult

  constructor(readonly spec: SimulationSpec) {
    this.random = prng(spec.seed)
    this.result = {
      strategy: spec.options.strategy, workload: spec.workload, flushedBytes: 0, compactionWrittenBytes: 0,
      writeAmplification: 1, spaceAmplification: 1, spaceAmplificationMax: 1, level0Files: [],
      stopTicks: 0, slowdownTicks: 0, tasks: {}, levelBytes: [], violations: [], ticks: 0,
    }
  }

  makeTable(entries: Entry[], level: number): TableMeta {
    const id = this.nextId++
    this.contents.set(id, entries)
    this.ranges.set(id, [(entries[0] as Entry).key, (entries[entries.length - 1] as Entry).key])
    let smallestSeqno = Number.MAX_SAFE_INTEGER
    let largestSeqno = 0
    for (const entry of entries) {
      smallestSeqno = Math.min(smallestSeqno, entry.seqno)
      largestSeqno = Math.max(largestSeqno, entry.seqno)
    }
    return {
      id, level, sizeBytes: entries.length * this.spec.entryBytes, checksum: 0,
      smallestKey: keyBytes((entries[0] as Entry).key), largestKey: keyBytes((entries[entries.length - 1] as Entry).key),
      smallestSeqno, largestSeqno, entries: entries.length, rangeTombstones: 0, createdAtMs: this.tick * this.spec.tickMs,
    }
  }

  install(task: CompactionTask | undefined, added: TableMeta[]): void {
    const edit = emptyEdit()
    for (const input of task?.inputs ?? []) {
      for (const table of input.tables) edit.removeTables.push({ level: input.level, id: table.id })
    }
    edit.addTables = added
    this.version = applyEdit(this.version, edit, this.version.id + 1)
    if (task !== undefined && task.kind !== 'move') {
      for (const input of task.inputs) {
        for (const table of input.tables) {
          this.contents.delete(table.id)
          this.ranges.delete(table.id)
        }
      }
    }
    this.checkLevel0Age()
  }

  flush(): void {
    const byKey = new Map<number, Entry>()
    for (let i = 0; i < this.spec.keysPerFlush; i++) {
      const sequential = this.spec.workload === 'sequential'
      const key = sequential ? this.nextSequentialKey++ : Math.floor(this.random() * this.spec.keySpace)
      const tombstone = !sequential && this.random() < this.spec.deleteFraction
      const entry = { key, seqno: this.seqno++, tombstone }
      byKey.set(key, entry)
      this.latest.set(key, entry)
    }
    const entries = [...byKey.values()].sort(byKeyThenNewest)
    this.result.flushedBytes += entries.length * this.spec.entryBytes
    this.install(undefined, [this.makeTable(entries, 0)])
  }

  /** The merge's output tables (see the file comment). */
  mergeOutputs(task: CompactionTask): TableMeta[] {
    const all: Entry[] = []
    for (const input of task.inputs) for (const table of input.tables) all.push(...(this.contents.get(table.id) ?? []))
    all.sort(byKeyThenNewest)
    const snapshots = this.snapshots.map((snapshot) => snapshot.seqno)
    const kept: Entry[] = []
    for (let start = 0; start < all.length;) {
      let end = start + 1
      while (end < all.length && (all[end] as Entry).key === (all[start] as Entry).key) end++
      kept.push(...compactVersions(all.slice(start, end), snapshots, task.bottommost))
      start = end
    }
    const perTable = task.outputLevel === 0 ? kept.length : Math.max(1, Math.floor(this.spec.options.tableBytes / this.spec.entryBytes))
    const outputs: TableMeta[] = []
    for (let i = 0; i < kept.length; i += perTable) {
      outputs.push(this.makeTable(kept.slice(i, i + perTable), task.outputLevel))
    }
    this.result.compactionWrittenBytes += kept.length * this.spec.entryBytes
    return outputs
  }

  finishJobs(): void {
    for (let i = this.running.length - 1; i >= 0; i--) {
      const job = this.running[i] as Job
      if (job.doneTick > this.tick) continue
      this.running.splice(i, 1)
      for (const input of job.task.inputs) for (const table of input.tables) this.busy.delete(table.id)
      this.install(job.task, this.mergeOutputs(job.task))
    }
  }

  startJobs(): void {
    while (this.running.length < this.spec.concurrency) {
      const task = pickCompaction(this.version, this.spec.options, { busyTableIds: this.busy, nowMs: this.tick * this.spec.tickMs })
      if (task === undefined) return
      const label = `${task.kind}:${task.reason}`
      this.result.tasks[label] = (this.result.tasks[label] ?? 0) + 1
      if (task.kind === 'move') {
        this.install(task, task.inputs[0]!.tables.map((table) => ({ ...table, level: task.outputLevel })))
        continue
      }
      if (task.kind === 'drop') {
        this.install(task, [])
        continue
      }
      let inputBytes = 0
      for (const input of task.inputs) {
        for (const table of input.tables) {
          inputBytes += table.sizeBytes
          this.busy.add(table.id)
        }
      }
      this.running.push({ task, doneTick: this.tick + Math.max(1, Math.ceil(inputBytes / this.spec.compactionBytesPerTick)) })
    }
  }

  checkLevel0Age(): void {
    const level0 = this.version.levels[0] as readonly TableMeta[]
    for (let i = 0; i < level0.length; i++) {
      for (let j = i + 1; j < level0.length; j++) {
        const [a, b] = [level0[i] as TableMeta, level0[j] as TableMeta]
        const keysOverlap = a.largestKey.compare(b.smallestKey) >= 0 && a.smallestKey.compare(b.largestKey) <= 0
        if (keysOverlap && !(a.smallestSeqno > b.largestSeqno || b.smallestSeqno > a.largestSeqno)) {
          this.result.violations.push(`tick ${this.tick}: L0 tables ${a.id}, ${b.id} interleave in age`)
        }
      }
    }
  }

  /** The entry a read of `key` at `maxSeqno` finds, as the read path searches the Version. */
  read(key: number, maxSeqno: number): Entry | undefined {
    for (const table of this.version.levels[0] as readonly TableMeta[]) {
      const [from, to] = this.ranges.get(table.id) as [number, number]
      if (key < from || key > to) continue
      const entry = findEntry(this.contents.get(table.id) ?? [], key, maxSeqno)
      if (entry !== undefined) return entry
    }
    for (let level = 1; level < LEVEL_COUNT; level++) {
      const tables = this.version.levels[level] as readonly TableMeta[]
      let low = 0
      let high = tables.length
      while (low < high) {
        const middle = (low + high) >>> 1
        if ((this.ranges.get((tables[middle] as TableMeta).id) as [number, number])[1] < key) low = middle + 1
        else high = middle
      }
      let found: Entry | undefined
      for (let i = low; i < tables.length && i < low + 2; i++) {
        const table = tables[i] as TableMeta
        if ((this.ranges.get(table.id) as [number, number])[0] > key) break
        const entry = findEntry(this.contents.get(table.id) ?? [], key, maxSeqno)
        if (entry !== undefined && (found === undefined || entry.seqno > found.seqno)) found = entry
      }
      if (found !== undefined) return found
    }
    return undefined
  }

  verifyReads(): void {
    if (this.spec.options.strategy === 'fifo') return
    const views = [{ seqno: Number.MAX_SAFE_INTEGER, model: this.latest }, ...this.snapshots]
    for (const { seqno, model } of views) {
      for (const key of this.latest.keys()) {
        const expected = model.get(key)
        const expectedLive = expected !== undefined && !expected.tombstone
        const got = this.read(key, seqno)
        const gotLive = got !== undefined && !got.tombstone
        if (gotLive !== expectedLive || (gotLive && got.seqno !== expected?.seqno)) {
          const what = `${got?.seqno} (${gotLive ? 'live' : 'deleted or absent'})`
          this.result.violations.push(`tick ${this.tick}: key ${key} at seqno ${seqno} reads ${what}, expected ${expected?.seqno}`)
          return
        }
      }
    }
  }

  /** Releases expired snapshots and takes a new one every snapshotEvery ticks. */
  snapshotStep(): void {
    this.snapshots = this.snapshots.filter((snapshot) => snapshot.releaseTick > this.tick)
    if (this.spec.snapshotEvery === 0 || this.tick % this.spec.snapshotEvery !== 0) return
    this.snapshots.push({ seqno: this.seqno - 1, releaseTick: this.tick + this.spec.snapshotTicks, model: new Map(this.latest) })
  }

  sample(): void {
    this.result.level0Files.push((this.version.levels[0] as readonly TableMeta[]).length)
    let liveKeys = 0
    for (const entry of this.latest.values()) if (!entry.tombstone) liveKeys++
    if (liveKeys === 0) return
    const amplification = this.version.totalBytes() / (liveKeys * this.spec.entryBytes)
    this.result.spaceAmplification = amplification
    this.result.spaceAmplificationMax = Math.max(this.result.spaceAmplificationMax, amplification)
  }

  step(flushWanted: boolean): void {
    this.tick++
    this.snapshotStep()
    this.finishJobs()
    if (flushWanted) {
      const stall = writeStall(this.version, 0, { ...this.spec.options, immutableMemtablesMax: 2 })
      if (stall.state === 'stop') this.result.stopTicks++
      else {
        if (stall.state === 'slowdown') this.result.slowdownTicks++
        this.flush()
      }
    }
    this.startJobs()
    this.sample()
    if (this.spec.verifyEvery > 0 && this.tick % this.spec.verifyEvery === 0) this.verifyReads()
  }

  run(): SimulationResult {
    let flushed = 0
    while (flushed < this.spec.flushes) {
      const before = this.result.flushedBytes
      this.step(true)
      if (this.result.flushedBytes > before) flushed++
      if (this.result.stopTicks > DRAIN_TICKS_MAX) throw new Error('writes stopped for good: a stall deadlock')
    }
    for (let idle = 0; this.running.length > 0; idle++) {
      if (idle > DRAIN_TICKS_MAX) throw new Error('compactions never finish')
      this.step(false)
    }
    this.verifyReads()
    const r = this.result
    r.ticks = this.tick
    r.writeAmplification = (r.flushedBytes + r.compactionWrittenBytes) / Math.max(1, r.flushedBytes)
    r.levelBytes = Array.from({ length: LEVEL_COUNT }, (_, level) => this.version.levelBytes(level))
    return r
  }
}

export function simulate(spec: SimulationSpec): SimulationResult {
  return new Simulation(spec).run()
}

/** A spec scaled so a few thousand flushes exercise every level: 1 KiB entries, 256 KiB tables. */
export function defaultSpec(strategy: CompactionStrategyName, workload: Workload): SimulationSpec {
  const entryBytes = 1024
  const options: CompactionOptions = {
    ...DEFAULT_COMPACTION_OPTIONS,
    strategy,
    tableBytes: 256 * entryBytes,
    maxCompactionBytes: 25 * 256 * entryBytes,
    levelBaseBytes: 1024 * entryBytes,
    tiered: { ...DEFAULT_COMPACTION_OPTIONS.tiered },
    fifo: { maxTotalBytes: 20_000 * entryBytes, ttlSeconds: 0 },
  }
  return {
    options, workload, flushes: 1000, keysPerFlush: 200, keySpace: 50_000, deleteFraction: 0.05,
    entryBytes, concurrency: 2, compactionBytesPerTick: 2000 * entryBytes, tickMs: 1000, seed: 1, verifyEvery: 0,
    snapshotEvery: 50, snapshotTicks: 120,
  }
}

function sparkline(values: readonly number[], width = 60): string {
  const bars = ' ▁▂▃▄▅▆▇█'
  const max = Math.max(1, ...values)
  const step = Math.max(1, Math.ceil(values.length / width))
  let out = ''
  for (let i = 0; i < values.length; i += step) {
    const bucket = Math.max(...values.slice(i, i + step))
    out += bars[Math.round((bucket / max) * (bars.length - 1))]
  }
  return out
}

export function formatResult(r: SimulationResult): string {
  const mib = (n: number): string => (n / (1024 * 1024)).toFixed(1)
  const tasks = Object.entries(r.tasks).map(([k, v]) => `${k}=${v}`).join(' ')
  return [
    `${r.strategy} / ${r.workload}: ${r.ticks} ticks, flushed ${mib(r.flushedBytes)} MiB, compaction wrote ${mib(r.compactionWrittenBytes)} MiB`,
    // FIFO drops live data by design: bytes / live is not an amplification there.
    r.strategy === 'fifo'
      ? `  write amplification ${r.writeAmplification.toFixed(2)}, space amplification n/a (drops live data)`
      : `  write amplification ${r.writeAmplification.toFixed(2)}, space amplification ${r.spaceAmplification.toFixed(2)} (max ${r.spaceAmplificationMax.toFixed(2)})`,
    `  L0 files max ${Math.max(0, ...r.level0Files)}, stop ticks ${r.stopTicks}, slowdown ticks ${r.slowdownTicks}`,
    `  L0 over time (max ${Math.max(0, ...r.level0Files)}): ${sparkline(r.level0Files)}`,
    `  level MiB: ${r.levelBytes.map(mib).join(' | ')}`,
    `  tasks: ${tasks}`,
    `  violations: ${r.violations.length === 0 ? 'none' : r.violations.slice(0, 5).join('; ')}`,
  ].join('\n')
}

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : undefined
}

function main(argv: readonly string[]): void {
  const strategies = (flag(argv, 'strategy') ?? 'leveled,tiered,fifo').split(',') as CompactionStrategyName[]
  const workloads = (flag(argv, 'workload') ?? 'random,sequential').split(',') as Workload[]
  for (const strategy of strategies) {
    for (const workload of workloads) {
      const spec = defaultSpec(strategy, workload)
      const number = (name: string, fallback: number): number => Number(flag(argv, name) ?? fallback)
      spec.flushes = number('flushes', spec.flushes)
      spec.keysPerFlush = number('keys-per-flush', spec.keysPerFlush)
      spec.keySpace = number('key-space', spec.keySpace)
      spec.concurrency = number('concurrency', spec.concurrency)
      spec.seed = number('seed', spec.seed)
      console.log(formatResult(simulate(spec)))
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2))
}
