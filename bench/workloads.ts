/**
 * The db_bench workloads (LevelDB/RocksDB benchmarks/db_bench semantics) and the registry of
 * every workload, YCSB's included (bench/ycsb.ts).
 *
 * Writes (each key and value a fresh buffer made inside the timed loop, for every engine alike):
 *   fillseq                num puts, keys 0..num-1 in order, one put awaited at a time
 *   fillrandom             num puts, keys drawn with replacement from a seeded PRNG, one at a time
 *   fillrandom-concurrent  as fillrandom, with CONCURRENCY puts in flight (group commit)
 *   overwrite              num puts of random keys into the loaded data, one at a time
 *   fillbatch              num entries in batches of BATCH_ENTRIES, keys in order, one batch at a time
 *   fillsync               as fillbatch with random keys, every batch durable (fsync) before the next
 * Reads (on the loaded data, `ops` operations):
 *   readrandom             random existing keys, each engine's primary point read: a sync loop when
 *                          it is synchronous, else CONCURRENCY promises in flight
 *   readrandom-sync        as readrandom, through a synchronous read on every engine that has one
 *   readmissing            keys that sort between loaded keys and are never written (data.ts)
 *   seekrandom             seek to a random existing key, read it and the SEEK_NEXTS after it
 *   readseq                one full forward scan
 *   readwhilewriting       readrandom while one writer overwrites random keys at WRITER_RATE puts/s;
 *                          reads/s is the figure
 *
 * Every workload checks its answers and throws on a wrong one: a read of a loaded key that misses,
 * a read of a missing key that hits, a seek that lands elsewhere or skips an entry, a scan of
 * another count; after a write workload, a sample of the written keys is read back and must hold
 * a value written to it (not timed). A fast wrong answer is not a result.
 */
import { checkFound, fail, verifyWritten, type RunSpec, type Workload } from './checks.js'
import { CONCURRENCY, drive, modeOf, now } from './drivers.js'
import { KEY_BYTES, Mulberry32, ValueSource, WrittenKeys, formatKey, keyNumber, missingKey } from './data.js'
import type { BenchCursor, BenchEngine, Entry, MaybePromise } from './engines/types.js'
import { YCSB_WORKLOADS } from './ycsb.js'

export type { RunSpec, Workload } from './checks.js'

/** Entries per batch in fillbatch and fillsync (the issue's figure; db_bench's is 1,000). */
export const BATCH_ENTRIES = 100
/** Entries read after the seek target in seekrandom (db_bench --seek_nexts=10). */
export const SEEK_NEXTS = 10
/** The writer's fixed rate in readwhilewriting: ~1.2 MB/s of 116-byte entries. */
export const WRITER_RATE = 10_000
/** Most writes the readwhilewriting writer issues at once when it has fallen behind. */
const WRITER_BURST_MAX = 256

interface FillShape {
  order: 'sequential' | 'random'
  inFlight: number
  batchEntries: number
  needsData?: boolean
  sync?: boolean
}

function fill(name: string, shape: FillShape): Workload {
  return {
    name,
    needsData: shape.needsData === true,
    sync: shape.sync === true,
    async run(engine, spec) {
      // values differ from the loaded ones (seeded spec.seed), so a dropped overwrite is visible
      const values = new ValueSource(spec.valueSizeBytes, spec.seed + 5)
      const prng = new Mulberry32(spec.seed)
      const written = new WrittenKeys(spec.num, shape.needsData === true ? spec.num : 0)
      const keyAt = shape.order === 'sequential' ? (i: number) => i : () => prng.int(spec.num)
      const writeOne = (i: number): Promise<void> => {
        const n = keyAt(i)
        const value = values.next()
        written.issue(n, value)
        return engine.put(formatKey(n), value).then(() => written.acknowledge(n))
      }
      const writeBatch = (b: number): Promise<void> => {
        const numbers: number[] = []
        const entries: [Buffer, Buffer][] = []
        for (let i = b * shape.batchEntries; i < Math.min((b + 1) * shape.batchEntries, spec.num); i++) {
          const n = keyAt(i)
          const value = values.next()
          written.issue(n, value)
          numbers.push(n)
          entries.push([formatKey(n), value])
        }
        return engine.batch(entries).then(() => numbers.forEach((n) => written.acknowledge(n)))
      }
      const batched = shape.batchEntries > 1
      const driven = batched
        ? await drive(Math.ceil(spec.num / shape.batchEntries), shape.inFlight, writeBatch)
        : await drive(spec.num, shape.inFlight, writeOne)
      await verifyWritten(name, engine, written)
      const issued = modeOf(shape.inFlight, false)
      return {
        ...driven,
        ops: spec.num,
        mode: batched ? `batches of ${shape.batchEntries}, ${issued}${shape.sync === true ? ', fsync' : ''} (latency per batch)` : issued,
        entriesWritten: written.writes,
        liveEntries: written.distinct,
      }
    },
  }
}

/** How a workload reads a point: the engine's primary get, or its synchronous one. */
function pointRead(engine: BenchEngine, forceSync: boolean, workload: string): { read: (key: Buffer) => MaybePromise<Buffer | undefined>; inFlight: number } {
  if (!forceSync) return { read: (key) => engine.get(key), inFlight: engine.readsAreSync ? 1 : CONCURRENCY }
  if (engine.readsAreSync) return { read: (key) => engine.get(key), inFlight: 1 }
  const getSync = engine.getSync?.bind(engine)
  if (getSync === undefined) fail(workload, 'the engine has no synchronous read')
  return { read: getSync, inFlight: 1 }
}

function readRandom(name: string, options: { forceSync: boolean; missing: boolean }): Workload {
  return {
    name,
    needsData: true,
    async run(engine, spec) {
      const prng = new Mulberry32(spec.seed + 1)
      const { read, inFlight } = pointRead(engine, options.forceSync, name)
      const check = options.missing
        ? (value: Buffer | undefined): void => {
          if (value !== undefined) fail(name, 'a key that was never written was found')
        }
        : (value: Buffer | undefined): void => checkFound(name, value, spec)
      const makeKey = options.missing ? missingKey : formatKey
      const driven = await drive(spec.ops, inFlight, () => {
        const result = read(makeKey(prng.int(spec.num)))
        return result instanceof Promise ? result.then(check) : check(result)
      })
      return { ...driven, mode: modeOf(inFlight, true), entriesWritten: 0, liveEntries: spec.num }
    },
  }
}

/** seekrandom's check: the entries are target, target+1, ... (fewer only at the end of the keys). */
function checkSeek(entries: Entry[], target: number, spec: RunSpec): void {
  const expected = Math.min(SEEK_NEXTS + 1, spec.num - target)
  if (entries.length !== expected) fail('seekrandom', `read ${entries.length} entries after seeking key ${target}, expected ${expected}`)
  for (let j = 0; j < entries.length; j++) {
    const [key, value] = entries[j]!
    if (keyNumber(key) !== target + j) fail('seekrandom', `entry ${j} after seeking key ${target} is not key ${target + j}`)
    if (value.length !== spec.valueSizeBytes) fail('seekrandom', `value of ${value.length} bytes`)
  }
}

const seekRandom: Workload = {
  name: 'seekrandom',
  needsData: true,
  async run(engine, spec) {
    const prng = new Mulberry32(spec.seed + 2)
    const inFlight = engine.readsAreSync ? 1 : CONCURRENCY
    // one cursor per worker, reused (db_bench reuses one iterator per thread)
    const readAheadBytes = SEEK_NEXTS * (KEY_BYTES + spec.valueSizeBytes)
    const idle: BenchCursor[] = Array.from({ length: inFlight }, () => engine.cursor(readAheadBytes))
    try {
      const driven = await drive(spec.ops, inFlight, () => {
        const target = prng.int(spec.num)
        const cursor = idle.pop()!
        const result = cursor.seek(formatKey(target), SEEK_NEXTS + 1)
        if (!(result instanceof Promise)) {
          idle.push(cursor)
          return checkSeek(result, target, spec)
        }
        return result.then((entries) => {
          idle.push(cursor)
          checkSeek(entries, target, spec)
        })
      })
      return { ...driven, mode: `${modeOf(inFlight, true)}, seek + ${SEEK_NEXTS} next`, entriesWritten: 0, liveEntries: spec.num }
    } finally {
      for (const cursor of idle) await cursor.close()
    }
  },
}

const readSeq: Workload = {
  name: 'readseq',
  needsData: true,
  async run(engine, spec) {
    let bad = 0
    let index = 0
    const start = now()
    const count = await engine.scan((key, value) => {
      // the i-th key is formatKey(i): checking its last digit catches a skip or a reorder cheaply
      if (key.length !== KEY_BYTES || value.length !== spec.valueSizeBytes || key[KEY_BYTES - 1] !== 0x30 + (index % 10)) bad++
      index++
    })
    const elapsedNs = now() - start
    if (count !== spec.num) fail('readseq', `scanned ${count} entries, loaded ${spec.num}`)
    if (bad !== 0) fail('readseq', `${bad} entries of the wrong size or out of order`)
    return { ops: count, elapsedNs, latencyNs: [], mode: 'full scan', entriesWritten: 0, liveEntries: spec.num }
  },
}

/** The rate-limited writer of readwhilewriting: overwrites random loaded keys until stopped. */
async function rateLimitedWriter(engine: BenchEngine, spec: RunSpec, written: WrittenKeys, stopped: () => boolean): Promise<number> {
  const prng = new Mulberry32(spec.seed + 3)
  const values = new ValueSource(spec.valueSizeBytes, spec.seed + 3)
  const start = now()
  let issued = 0
  while (!stopped()) {
    // the first write is due at once, so even a read phase shorter than one writer interval
    // overlaps a write (and the read-back has something to check)
    const due = Math.floor((Number(now() - start) / 1e9) * WRITER_RATE) + 1 - issued
    if (due <= 0) {
      await new Promise((resolve) => setTimeout(resolve, 1))
      continue
    }
    const writes: Promise<void>[] = []
    for (let j = 0; j < Math.min(due, WRITER_BURST_MAX); j++) {
      const n = prng.int(spec.num)
      const value = values.next()
      written.issue(n, value)
      writes.push(engine.put(formatKey(n), value).then(() => written.acknowledge(n)))
    }
    issued += writes.length
    await Promise.all(writes)
  }
  return issued
}

const readWhileWriting: Workload = {
  name: 'readwhilewriting',
  needsData: true,
  async run(engine, spec) {
    const prng = new Mulberry32(spec.seed + 1)
    const written = new WrittenKeys(spec.num, spec.num)
    let done = false
    const writer = rateLimitedWriter(engine, spec, written, () => done)
    const { read, inFlight } = pointRead(engine, false, 'readwhilewriting')
    const check = (value: Buffer | undefined): void => checkFound('readwhilewriting', value, spec)
    let driven
    try {
      driven = await drive(spec.ops, inFlight, () => {
        const result = read(formatKey(prng.int(spec.num)))
        return result instanceof Promise ? result.then(check) : check(result)
      })
    } finally {
      done = true
    }
    const writes = await writer
    await verifyWritten('readwhilewriting', engine, written)
    const achieved = writes / (Number(driven.elapsedNs) / 1e9)
    return {
      ...driven,
      mode: `reads ${modeOf(inFlight, true)}; 1 writer at ${WRITER_RATE.toLocaleString('en-US')}/s (achieved ${Math.round(achieved).toLocaleString('en-US')}/s)`,
      entriesWritten: writes,
      liveEntries: spec.num,
    }
  },
}

/** Every workload, in the order they run and print. */
export const WORKLOADS: readonly Workload[] = [
  fill('fillseq', { order: 'sequential', inFlight: 1, batchEntries: 1 }),
  fill('fillrandom', { order: 'random', inFlight: 1, batchEntries: 1 }),
  fill('fillrandom-concurrent', { order: 'random', inFlight: CONCURRENCY, batchEntries: 1 }),
  fill('overwrite', { order: 'random', inFlight: 1, batchEntries: 1, needsData: true }),
  fill('fillbatch', { order: 'sequential', inFlight: 1, batchEntries: BATCH_ENTRIES }),
  fill('fillsync', { order: 'random', inFlight: 1, batchEntries: BATCH_ENTRIES, sync: true }),
  readRandom('readrandom', { forceSync: false, missing: false }),
  readRandom('readrandom-sync', { forceSync: true, missing: false }),
  readRandom('readmissing', { forceSync: false, missing: true }),
  seekRandom,
  readSeq,
  readWhileWriting,
  ...YCSB_WORKLOADS,
]

/** Whether an engine can run `workload` at all (readrandom-sync needs a synchronous read). */
export function supports(hasSyncGet: boolean, workload: string): boolean {
  return workload !== 'readrandom-sync' || hasSyncGet
}
