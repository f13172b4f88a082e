/**
 * YCSB core workloads A-F (brianfrankcooper/YCSB workloads/workload[a-f]) on the loaded data:
 * `ops` operations, CONCURRENCY clients (an engine's synchronous reads run inline, its writes
 * stay in flight), key choice the YCSB way (bench/zipfian.ts, seeded):
 *
 *   ycsb-a  50% read, 50% update                        scrambled zipfian
 *   ycsb-b  95% read, 5% update                         scrambled zipfian
 *   ycsb-c  100% read                                   scrambled zipfian
 *   ycsb-d  95% read, 5% insert                         latest (reads favour recent inserts)
 *   ycsb-e  95% short scan (1..100 entries, uniform), 5% insert   scrambled zipfian
 *   ycsb-f  50% read, 50% read-modify-write             scrambled zipfian
 *
 * Records are the loaded keys 0..num-1 (YCSB insertorder=ordered: key = record number, so
 * inserts, numbered from num, append at the end of the key space); an update or an insert writes
 * a whole fresh value (YCSB writes one field; here the value is the record). As in YCSB's
 * CoreWorkload, the zipfian chooser spans num + 2 * (expected inserts) items and a draw beyond the
 * last acknowledged insert is redrawn, so no operation picks a key whose insert is in flight.
 *
 * Checks: every read finds its key; a scan starts at its key and returns the consecutive keys that
 * are certainly there; after the run a sample of updated and inserted keys is read back.
 */
import { checkFound, fail, verifyWritten, type RunSpec, type Workload } from './checks.js'
import { CONCURRENCY, drive } from './drivers.js'
import { Mulberry32, ValueSource, WrittenKeys, formatKey, keyNumber } from './data.js'
import type { BenchEngine, Entry, MaybePromise } from './engines/types.js'
import { AcknowledgedCounter, ScrambledZipfianGenerator, SkewedLatestGenerator } from './zipfian.js'

/** YCSB maxscanlength (workload E): scan lengths are uniform in 1..SCAN_LENGTH_MAX. */
export const SCAN_LENGTH_MAX = 100

interface Mix {
  read: number
  update: number
  insert: number
  scan: number
  readModifyWrite: number
  distribution: 'zipfian' | 'latest'
}

type Operation = 'read' | 'update' | 'insert' | 'scan' | 'readModifyWrite'
const OPERATIONS: readonly Operation[] = ['read', 'update', 'insert', 'scan', 'readModifyWrite']

function describe(mix: Mix): string {
  const parts = OPERATIONS.filter((op) => mix[op] > 0).map((op) => `${Math.round(mix[op] * 100)}% ${op === 'readModifyWrite' ? 'rmw' : op}`)
  return `${parts.join(' ')}, ${mix.distribution}, ${CONCURRENCY} clients`
}

/** Everything one YCSB run draws from and records into. */
class YcsbState {
  readonly prng: Mulberry32
  readonly values: ValueSource
  readonly inserts: AcknowledgedCounter
  readonly written: WrittenKeys
  private readonly chooser: { next(): number }
  private readonly thresholds: number[]

  constructor(readonly mix: Mix, readonly spec: RunSpec) {
    this.prng = new Mulberry32(spec.seed + 10)
    this.values = new ValueSource(spec.valueSizeBytes, spec.seed + 10)
    this.inserts = new AcknowledgedCounter(spec.num, spec.ops)
    this.written = new WrittenKeys(spec.num + spec.ops, spec.num)
    const expectedInserts = Math.floor(spec.ops * mix.insert * 2)
    this.chooser = mix.distribution === 'latest'
      ? new SkewedLatestGenerator(this.inserts, this.prng)
      : new ScrambledZipfianGenerator(0, spec.num + expectedInserts - 1, this.prng)
    let sum = 0
    this.thresholds = OPERATIONS.map((op) => (sum += mix[op]))
  }

  nextOperation(): Operation {
    const u = this.prng.float() * this.thresholds[this.thresholds.length - 1]!
    for (let i = 0; i < OPERATIONS.length; i++) if (u < this.thresholds[i]!) return OPERATIONS[i]!
    return OPERATIONS[OPERATIONS.length - 1]!
  }

  /** A key number whose record is certainly stored (YCSB CoreWorkload.nextKeynum). */
  nextKeyNumber(): number {
    let n: number
    do n = this.chooser.next()
    while (n > this.inserts.lastValue())
    return n
  }

  write(engine: BenchEngine, n: number): Promise<void> {
    const value = this.values.next()
    this.written.issue(n, value)
    return engine.put(formatKey(n), value).then(() => this.written.acknowledge(n))
  }
}

function checkScan(entries: Entry[], start: number, length: number, lastStored: number, spec: RunSpec): void {
  const certain = Math.min(length, lastStored - start + 1)
  if (entries.length < certain || entries.length > length) fail('ycsb-e', `scan of ${length} from key ${start} returned ${entries.length} entries`)
  for (let j = 0; j < certain; j++) {
    if (keyNumber(entries[j]![0]) !== start + j) fail('ycsb-e', `entry ${j} of the scan from key ${start} is not key ${start + j}`)
    if (entries[j]![1].length !== spec.valueSizeBytes) fail('ycsb-e', `value of ${entries[j]![1].length} bytes`)
  }
}

function operate(state: YcsbState, engine: BenchEngine, name: string): MaybePromise<void> {
  const { spec } = state
  switch (state.nextOperation()) {
    case 'read': {
      const result = engine.get(formatKey(state.nextKeyNumber()))
      return result instanceof Promise ? result.then((v) => checkFound(name, v, spec)) : checkFound(name, result, spec)
    }
    case 'update':
      return state.write(engine, state.nextKeyNumber())
    case 'insert': {
      const n = state.inserts.next()
      return state.write(engine, n).then(() => state.inserts.acknowledge(n))
    }
    case 'scan': {
      const start = state.nextKeyNumber()
      const length = 1 + state.prng.int(SCAN_LENGTH_MAX)
      const lastStored = state.inserts.lastValue()
      const result = engine.range(formatKey(start), length)
      return result instanceof Promise
        ? result.then((entries) => checkScan(entries, start, length, lastStored, spec))
        : checkScan(result, start, length, lastStored, spec)
    }
    case 'readModifyWrite': {
      const n = state.nextKeyNumber()
      const result = engine.get(formatKey(n))
      if (!(result instanceof Promise)) {
        checkFound(name, result, spec)
        return state.write(engine, n)
      }
      return result.then((v) => {
        checkFound(name, v, spec)
        return state.write(engine, n)
      })
    }
  }
}

function ycsb(name: string, mix: Mix): Workload {
  return {
    name,
    needsData: true,
    async run(engine, spec) {
      const state = new YcsbState(mix, spec)
      const driven = await drive(spec.ops, CONCURRENCY, () => operate(state, engine, name))
      await verifyWritten(name, engine, state.written)
      return { ...driven, mode: describe(mix), entriesWritten: state.written.writes, liveEntries: state.written.distinct }
    },
  }
}

const none = { read: 0, update: 0, insert: 0, scan: 0, readModifyWrite: 0 }

export const YCSB_WORKLOADS: readonly Workload[] = [
  ycsb('ycsb-a', { ...none, read: 0.5, update: 0.5, distribution: 'zipfian' }),
  ycsb('ycsb-b', { ...none, read: 0.95, update: 0.05, distribution: 'zipfian' }),
  ycsb('ycsb-c', { ...none, read: 1, distribution: 'zipfian' }),
  ycsb('ycsb-d', { ...none, read: 0.95, insert: 0.05, distribution: 'latest' }),
  ycsb('ycsb-e', { ...none, scan: 0.95, insert: 0.05, distribution: 'zipfian' }),
  ycsb('ycsb-f', { ...none, read: 0.5, readModifyWrite: 0.5, distribution: 'zipfian' }),
]
