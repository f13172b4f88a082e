/**
 * What every workload shares: its spec, its shape, and the checks that make a wrong answer fail
 * the run instead of producing a fast number.
 */
import type { Measured } from './drivers.js'
import { formatKey, type WrittenKeys } from './data.js'
import type { BenchEngine } from './engines/types.js'

export interface RunSpec {
  /** Entries loaded (read workloads) or written (fill workloads). */
  num: number
  /** Operations of the read and mixed workloads (db_bench --reads); defaults to num. */
  ops: number
  valueSizeBytes: number
  seed: number
  /** When set, the timed part (only) is CPU-profiled into <dir>/<workload>-<engine>-<time>.cpuprofile. */
  profileDir?: string
}

export interface Workload {
  readonly name: string
  /** Runs on a copy of the loaded data (every key in [0, num)), reopened, instead of an empty database. */
  readonly needsData: boolean
  /** Open the engine with durable writes (fillsync). */
  readonly sync?: boolean
  run(engine: BenchEngine, spec: RunSpec): Promise<Measured>
}

export function fail(workload: string, what: string): never {
  throw new Error(`${workload}: ${what}`)
}

export function checkFound(workload: string, value: Buffer | undefined, spec: RunSpec): void {
  if (value === undefined) fail(workload, 'a loaded key was not found')
  if (value.length !== spec.valueSizeBytes) fail(workload, `value of ${value.length} bytes, expected ${spec.valueSizeBytes}`)
}

/** Reads back the sampled written keys: each must hold a value that was written to it. */
export async function verifyWritten(workload: string, engine: BenchEngine, written: WrittenKeys): Promise<void> {
  for (const [n, accepted] of written.sample()) {
    const value = await engine.get(formatKey(n))
    if (value === undefined) fail(workload, `written key ${n} is missing after the run`)
    if (!accepted.some((v) => v.equals(value))) fail(workload, `written key ${n} holds a value that was never written to it`)
  }
}
