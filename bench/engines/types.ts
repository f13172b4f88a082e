/**
 * The seam between the benchmark harness and the engines it compares (db_bench's "DB" class,
 * reduced to what the workloads need). One adapter per engine in bench/engines/<name>.ts.
 *
 * Contract for adapters:
 * - Each adapter uses the FASTEST API an ordinary Node user of that engine would call for the
 *   operation (no private bindings, no tuning the user would not find in the README), and says
 *   which API in `apis` so the report can print it next to the numbers.
 * - The engine's own defaults are kept, except the ones the workload fixes (sync off), so the
 *   comparison is "what you get out of the box".
 * - Keys and values handed to `put`/`batch` are fresh buffers the adapter may keep; `get`
 *   returns the stored value or undefined.
 * - Latency is measured by the harness around each call, so an adapter must not buffer writes
 *   past the resolution of its promise.
 *
 * Adding a peer (next issue: rocksdb, lmdb): write bench/engines/<name>.ts exporting an
 * EngineFactory and register it in ENGINE_LOADERS in bench/db-bench.ts.
 */

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
}

export interface BenchEngine {
  /** Writes one entry; resolves when the engine acknowledges it under the open's sync mode. */
  put(key: Buffer, value: Buffer): Promise<void>
  /** Writes the entries atomically in one batch (used to load data before read workloads). */
  batch(entries: readonly (readonly [Buffer, Buffer])[]): Promise<void>
  /**
   * Reads one key. Adapters whose fastest point read is synchronous return the value directly
   * (`getIsSync` is true); others return a promise, which the harness keeps many of in flight.
   */
  get(key: Buffer): Buffer | undefined | Promise<Buffer | undefined>
  /** Whether `get` returns synchronously (decides how the harness drives readrandom). */
  readonly getIsSync: boolean
  /**
   * A synchronous point read, for engines whose primary `get` is async but which also offer
   * one (classic-level's `getSync`). Used by readrandom-sync; absent means "not offered".
   */
  getSync?(key: Buffer): Buffer | undefined
  /**
   * Full forward scan in key order: calls `visit` for every entry and resolves with the count.
   * `visit` must be called with the entry's key and value (the harness checks sizes).
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
