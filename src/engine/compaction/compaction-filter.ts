/**
 * Compaction filters (RocksDB CompactionFilter, fjall's compaction filter): a user hook that sees
 * each surviving value as compaction rewrites it and may keep it, remove it, or change it —
 * TTL expiry and schema migration without a full rewrite by the application.
 *
 * Semantics (chosen so a filter can never change what a snapshot reads):
 * - The filter is called only for Put entries that no live snapshot can read: those newer than
 *   the newest snapshot (the compaction stream's top stripe). Older versions pinned by a
 *   snapshot pass through untouched; the filter sees them in a later compaction after the
 *   snapshot is released. Values folded from merge operands are Puts by then and are filtered;
 *   partial merges, tombstones and range tombstones are not.
 * - 'remove' turns the Put into a point tombstone at the same seqno, exactly as if the user had
 *   deleted the key then: older versions of the key in lower levels never resurface, and the
 *   tombstone is dropped when it reaches the bottom like any other.
 * - `{ value }` replaces the value, keeping key and seqno.
 * - Flushes do not call the filter (as RocksDB by default): a memtable's entries are filtered
 *   when they are first compacted.
 * - The filter must be deterministic and fast; it runs inside compaction (in a worker thread
 *   when it is given as a module). An exception fails the compaction like an I/O error: the
 *   tree turns read-only with the cause in stats(), and nothing stored is lost.
 *
 * Two forms. A CompactionFilter object runs jobs on the main thread (a function cannot cross
 * to a worker). A CompactionFilterModule names an ES module a worker can import itself: its
 * export (named `exportName`, default `default`) is a CompactionFilter, or a function taking
 * `options` (structured-clonable) and returning one.
 */
import { StrataError, ErrorCode } from '../errors.js'

export type CompactionFilterDecision = 'keep' | 'remove' | { value: Uint8Array }

export interface CompactionFilterContext {
  /** The level the compaction writes to. */
  outputLevel: number
  seqno: number
  /** True when nothing older than the output exists below it (the bottom of the tree). */
  bottommost: boolean
}

export interface CompactionFilter {
  readonly name: string
  filter(key: Buffer, value: Buffer, context: CompactionFilterContext): CompactionFilterDecision
}

export interface CompactionFilterModule {
  /** A `file:` URL or an absolute path of an ES module. */
  module: string
  exportName?: string
  options?: unknown
}

export function isCompactionFilterModule(x: CompactionFilter | CompactionFilterModule): x is CompactionFilterModule {
  return typeof (x as CompactionFilterModule).module === 'string'
}

/** Checks the option's shape at open (the module itself is loaded then too, see load below). */
export function validateCompactionFilterOption(x: unknown): CompactionFilter | CompactionFilterModule | undefined {
  if (x === undefined) return undefined
  if (typeof x === 'object' && x !== null) {
    const asModule = x as Partial<CompactionFilterModule>
    if (typeof asModule.module === 'string' && asModule.module.length > 0) {
      if (asModule.exportName !== undefined && typeof asModule.exportName !== 'string') throw badOption('exportName must be a string')
      try {
        structuredClone(asModule.options)
      } catch {
        throw badOption('options must be structured-clonable (they are sent to worker threads)')
      }
      return { module: asModule.module, exportName: asModule.exportName, options: asModule.options }
    }
    const asFilter = x as Partial<CompactionFilter>
    if (typeof asFilter.name === 'string' && typeof asFilter.filter === 'function') return x as CompactionFilter
  }
  throw badOption('expected { name, filter(key, value, context) } or { module, exportName?, options? }')
}

function badOption(detail: string): StrataError {
  return new StrataError(ErrorCode.INVALID_ARGUMENT, `option compactionFilter: ${detail}`)
}

const loaded = new Map<string, Promise<CompactionFilter>>()

/** Imports the module once per (module, export, options) in this thread and builds the filter. */
export function loadCompactionFilter(spec: CompactionFilterModule): Promise<CompactionFilter> {
  const cacheKey = JSON.stringify([spec.module, spec.exportName ?? 'default', spec.options ?? null])
  let pending = loaded.get(cacheKey)
  if (pending === undefined) {
    pending = importFilter(spec)
    loaded.set(cacheKey, pending)
    // A failed load is not cached: the next open retries (the file may be fixed by then).
    pending.catch(() => loaded.delete(cacheKey))
  }
  return pending
}

async function importFilter(spec: CompactionFilterModule): Promise<CompactionFilter> {
  const specifier = spec.module.startsWith('file:') ? spec.module : new URL(`file://${spec.module}`).href
  let mod: Record<string, unknown>
  try {
    mod = (await import(specifier)) as Record<string, unknown>
  } catch (cause) {
    throw new StrataError(ErrorCode.INVALID_ARGUMENT, `option compactionFilter: cannot import its module`, { cause })
  }
  const exported = mod[spec.exportName ?? 'default']
  const candidate = typeof exported === 'function' ? (exported as (o: unknown) => unknown)(spec.options) : exported
  const filter = candidate as Partial<CompactionFilter> | undefined
  if (filter === undefined || filter === null || typeof filter.filter !== 'function' || typeof filter.name !== 'string') {
    throw badOption(`export '${spec.exportName ?? 'default'}' is not a filter { name, filter } nor a function returning one`)
  }
  return filter as CompactionFilter
}

/** Normalizes a decision, refusing anything but the three documented answers. */
export function checkDecision(filter: CompactionFilter, d: unknown): CompactionFilterDecision {
  if (d === 'keep' || d === 'remove') return d
  if (typeof d === 'object' && d !== null && (d as { value?: unknown }).value instanceof Uint8Array) return d as { value: Uint8Array }
  throw new StrataError(ErrorCode.INVALID_ARGUMENT, `compaction filter '${filter.name}' returned an invalid decision (expected 'keep', 'remove' or { value: Uint8Array })`)
}
