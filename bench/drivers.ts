/**
 * How a workload's operations are issued and timed.
 *
 * One driver for every shape: `count` operations, each either synchronous (an engine with
 * synchronous reads returns its result directly) or a promise, issued by `inFlight` workers.
 * With inFlight 1 that is "one await at a time"; with CONCURRENCY it is what a user maximizing
 * throughput with an async API writes. A worker never awaits a synchronous result, so an engine
 * with synchronous reads runs them in a plain loop; the driver yields to the event loop once a
 * slice of SLICE_NS has passed since it last did (an awaited promise may resolve without a turn
 * of the loop, so awaits do not count), so timers (the event-loop delay monitor, a
 * rate-limited writer) keep running and the event-loop column measures the engine, not the
 * harness (a server would yield the same way).
 *
 * Latency: every SAMPLE_EVERY-th operation is timed from issue to completion (for in-flight
 * operations that includes queueing behind the others).
 */
import { yieldToEventLoop, type MaybePromise } from './engines/types.js'

/** In-flight operations for the concurrent variants: enough to fill a group commit. */
export const CONCURRENCY = 64
/** Latency is sampled on every SAMPLE_EVERY-th op: two hrtime calls cost ~0.1 µs. */
export const SAMPLE_EVERY = 16
/** A synchronous loop yields to the event loop after this long without an await. */
export const SLICE_NS = 1_000_000n
/** The clock is read every CLOCK_EVERY ops to decide whether the slice is over. */
const CLOCK_EVERY = 32

/** The timed part of a run, as a workload reports it. */
export interface Measured {
  ops: number
  elapsedNs: bigint
  /** Sampled per-op latencies in nanoseconds; empty when latency is not per-op measurable. */
  latencyNs: number[]
  /** How operations were issued, e.g. 'one await at a time', '64 in flight', 'sync loop'. */
  mode: string
  /** Entries the timed part wrote (a rewrite counts again), for write amplification. */
  entriesWritten: number
  /** Distinct live entries when the timed part ends, for space amplification. */
  liveEntries: number
}

export const now = (): bigint => process.hrtime.bigint()

export interface DriveResult {
  ops: number
  elapsedNs: bigint
  latencyNs: number[]
}

/**
 * Yields to the event loop once per slice, for every worker at once: the first worker to see
 * the slice over schedules ONE turn of the loop and every worker waits for that same turn before
 * its next operation. (Each worker awaiting its own setImmediate would not do: all their
 * callbacks run in the same check phase, so with 64 workers the loop would be held for 64
 * slices in a row.)
 */
class Slicer {
  private sliceStart = now()
  private turn: Promise<void> | undefined

  /** A promise to await before operation `i`, or undefined to go on. */
  pause(i: number): Promise<void> | undefined {
    if (this.turn !== undefined) return this.turn
    if (i % CLOCK_EVERY !== 0 || now() - this.sliceStart < SLICE_NS) return undefined
    this.turn = yieldToEventLoop().then(() => {
      this.turn = undefined
      this.sliceStart = now()
    })
    return this.turn
  }
}

/** Runs op(0..count-1) with `inFlight` workers, yielding every SLICE_NS of synchronous work. */
export async function drive(count: number, inFlight: number, op: (i: number) => MaybePromise<unknown>): Promise<DriveResult> {
  const latencyNs: number[] = []
  const slicer = new Slicer()
  let nextIndex = 0
  const worker = async (): Promise<void> => {
    while (nextIndex < count) {
      const i = nextIndex++
      const pause = slicer.pause(i)
      if (pause !== undefined) await pause
      if (i % SAMPLE_EVERY !== 0) {
        const result = op(i)
        if (result instanceof Promise) await result
        continue
      }
      const t0 = now()
      const result = op(i)
      if (result instanceof Promise) await result
      latencyNs.push(Number(now() - t0))
    }
  }
  const start = now()
  await Promise.all(Array.from({ length: Math.max(1, Math.min(inFlight, count)) }, worker))
  return { ops: count, elapsedNs: now() - start, latencyNs }
}

/** Describes a drive for the report. */
export function modeOf(inFlight: number, readsAreSync: boolean): string {
  if (readsAreSync && inFlight === 1) return 'sync loop'
  return inFlight === 1 ? 'one await at a time' : `${inFlight} in flight`
}
