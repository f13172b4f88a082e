/**
 * The seam between the benchmark harness and the engines it compares (db_bench's "DB" class,
 * reduced to what the workloads need). One adapter per engine in bench/engines/<name>.ts.
 *
 * Contract for adapters:
 * - Each adapter uses the FASTEST API an ordinary Node user of that engine would call for the
 *   operation (no private bindings, no tuning the user would not find in the README), and says
 *   which API in `apis` so the report can print it next to the numbers.
 * - The engine's own defaults are kept, except durability, which the workload fixes: `sync:
 *   false` is every engine's unsynced write (Strata `sync: 'none'`), `sync: true` a write that
 *   is durable (fsync) before it resolves.
 * - Keys and values handed to `put`/`batch` are fresh buffers the adapter may keep; reads
 *   return buffers the caller may keep (no views into a reused buffer).
 * - Latency is measured by the harness around each call, so an adapter must not buffer writes
 *   past the resolution of its promise.
 * - An engine whose reads are synchronous returns results directly (`readsAreSync`); the
 *   harness then runs them in a plain loop that yields to the event loop every millisecond (so
 *   the event-loop delay column measures the engine, not the harness). Long synchronous scans
 *   inside an adapter yield every SCAN_YIELD_ENTRIES entries for the same reason.
 *
 * Adding a peer: write bench/engines/<name>.ts exporting an EngineFactory and register it in
 * ENGINE_LOADERS in bench/db-bench.ts.
 */

export type Entry = [key: Buffer, value: Buffer]
/** A result that is synchronous on engines with synchronous reads, a promise on the others. */
export type MaybePromise<T> = T | Promise<T>

/** A synchronous scan yields to the event loop after this many entries. */
export const SCAN_YIELD_ENTRIES = 1000

/** Lets timers and I/O callbacks run (setImmediate: after pending I/O, before the next loop). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

export interface EngineOpenOptions {
  /** true: every write is durable before it resolves (fsync). The fill workloads use false. */
  sync: boolean
}

/** Human-readable names of the APIs an adapter calls, printed under the results table. */
export interface EngineApis {
  put: string
  batch: string
  get: string
  /** The synchronous read used by readrandom-sync, when `get` is async. */
  getSync?: string
  iterate: string
  /** seekrandom's reused iterator and YCSB E's short scans. */
  seek: string
  /** Durability settings for sync off and sync on. */
  durability: string
}

/** A reusable iterator (db_bench seekrandom: one iterator, Seek then Next per operation). */
export interface BenchCursor {
  /** Up to `count` entries from the first key >= target, in key order. */
  seek(target: Buffer, count: number): MaybePromise<Entry[]>
  close(): MaybePromise<void>
}

export interface BenchEngine {
  /** Writes one entry; resolves when the engine acknowledges it under the open's sync mode. */
  put(key: Buffer, value: Buffer): Promise<void>
  /** Writes the entries atomically in one batch, under the open's sync mode. */
  batch(entries: readonly (readonly [Buffer, Buffer])[]): Promise<void>
  /** Reads one key: the value, or undefined when absent. Synchronous when `readsAreSync`. */
  get(key: Buffer): MaybePromise<Buffer | undefined>
  /** Whether get/range/cursor return synchronously (decides how the harness drives reads). */
  readonly readsAreSync: boolean
  /**
   * A synchronous point read, for engines whose primary `get` is async but which also offer
   * one (classic-level's `getSync`). Used by readrandom-sync; absent means "not offered".
   */
  getSync?(key: Buffer): Buffer | undefined
  /** Up to `count` entries from the first key >= start, through a fresh iterator (YCSB E). */
  range(start: Buffer, count: number): MaybePromise<Entry[]>
  /**
   * A reusable iterator on the current state; the caller closes it. `readAheadBytes` is what the
   * caller reads after each seek (key + value bytes past the first entry): an adapter whose
   * iterator fills a read-ahead buffer may size the buffer to it, as its user would.
   */
  cursor(readAheadBytes: number): BenchCursor
  /**
   * Full forward scan in key order: calls `visit` for every entry and resolves with the count.
   * `visit` must be called with the entry's key and value (the harness checks them).
   */
  scan(visit: (key: Buffer, value: Buffer) => void): Promise<number>
  /** Makes everything written so far durable and releases the directory. */
  close(): Promise<void>
}

export interface EngineFactory {
  /** The name used by --engines and in the report ('strata', 'classic-level', ...). */
  readonly name: string
  /** Package and version, e.g. 'classic-level@3.0.0', for the report header. */
  readonly version: string
  readonly apis: EngineApis
  /** Whether the engine offers a synchronous point read at all (primary `get` or `getSync`). */
  readonly hasSyncGet: boolean
  /** Opens (creating) a database in `dir`, which exists and is empty or holds this engine's files. */
  open(dir: string, options: EngineOpenOptions): Promise<BenchEngine>
}

