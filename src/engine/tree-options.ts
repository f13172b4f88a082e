/**
 * Tree options resolved and checked (options.ts holds the names, defaults and limits), the job
 * runner they call for, and the bounds of an iterator. Pure helpers of tree.ts.
 */
import { copyBytes, prefixSuccessor, toBuffer } from './base/bytes.js'
import {
  isCompactionFilterModule,
  validateCompactionFilterOption,
  type CompactionFilterModule,
} from './compaction/compaction-filter.js'
import { InlineRunner, WorkerRunner, type JobRunner } from './compaction/job-runner.js'
import { DEFAULT_COMPACTION_OPTIONS, checkCompactionOptions, type CompactionOptions } from './compaction/picker.js'
import { invalidArgument } from './errors.js'
import type { IteratorBounds } from './iterator/user-iterator.js'
import { resolveMergeOperator } from './merge/builtins.js'
import { DEFAULTS, checkRange, type ResolvedOptions, type TreeOptions } from './options.js'
import { resolveReplicationOptions } from './replicas/options.js'
import { NodeVfs, nodeVfs } from './vfs/node-vfs.js'
import type { KeyInput } from './write-batch.js'

export interface ReadOptions {
  /** Read as of this seqno (default: the newest). */
  seqno?: number
}

export interface IteratorOptions extends ReadOptions {
  gt?: KeyInput
  gte?: KeyInput
  lt?: KeyInput
  lte?: KeyInput
  prefix?: KeyInput
  reverse?: boolean
  limit?: number
}

function resolveCompaction(options: TreeOptions): CompactionOptions {
  const given = typeof options.compaction === 'string' ? { strategy: options.compaction } : (options.compaction ?? {})
  const tableBytes = given.tableBytes ?? options.tableBytes ?? DEFAULTS.tableBytes
  const base = DEFAULT_COMPACTION_OPTIONS
  return checkCompactionOptions({
    ...base,
    ...given,
    tableBytes,
    levelBaseBytes: given.levelBaseBytes ?? 4 * tableBytes,
    maxCompactionBytes: given.maxCompactionBytes ?? 25 * tableBytes,
    tiered: { ...base.tiered, ...given.tiered },
    fifo: { ...base.fifo, ...given.fifo },
  })
}

export function filterModuleOf(options: ResolvedOptions): CompactionFilterModule | null {
  const f = options.compactionFilter
  return f !== undefined && isCompactionFilterModule(f) ? f : null
}

export function resolveOptions(options: TreeOptions): ResolvedOptions {
  const sync = options.sync ?? DEFAULTS.sync
  if (sync !== 'always' && sync !== 'none') throw invalidArgument("option sync must be 'always' or 'none'")
  const compression = options.compression ?? DEFAULTS.compression
  if (compression !== 'none' && compression !== 'zstd') throw invalidArgument("option compression must be 'none' or 'zstd'")
  return {
    vfs: options.vfs ?? nodeVfs,
    sync,
    mergeOperator: resolveMergeOperator(options.mergeOperator),
    compression,
    zstdLevel: checkRange('zstdLevel', options.zstdLevel ?? DEFAULTS.zstdLevel, 1, 19),
    memtableBytes: checkRange('memtableBytes', options.memtableBytes ?? DEFAULTS.memtableBytes, 4096, 2 ** 31),
    blockBytes: checkRange('blockBytes', options.blockBytes ?? DEFAULTS.blockBytes, 256, 4 * 1024 * 1024),
    tableBytes: checkRange('tableBytes', options.tableBytes ?? DEFAULTS.tableBytes, 4096, 2 ** 40),
    filterBitsPerKey: checkRange('filterBitsPerKey', options.filterBitsPerKey ?? DEFAULTS.filterBitsPerKey, 0, 32),
    blockCacheBytes: checkRange('blockCacheBytes', options.blockCacheBytes ?? DEFAULTS.blockCacheBytes, 0, 2 ** 40),
    createIfMissing: options.createIfMissing ?? DEFAULTS.createIfMissing,
    backgroundThreads: checkRange('backgroundThreads', options.backgroundThreads ?? DEFAULTS.backgroundThreads, 0, 16),
    compaction: resolveCompaction(options),
    immutableMemtablesMax: checkRange('immutableMemtablesMax', options.immutableMemtablesMax ?? DEFAULTS.immutableMemtablesMax, 1, 64),
    compactionFilter: validateCompactionFilterOption(options.compactionFilter),
    maxOpenTables: checkRange('maxOpenTables', options.maxOpenTables ?? DEFAULTS.maxOpenTables, 1, 1_000_000),
    replication: resolveReplicationOptions(options.replication),
  }
}

/** Workers need the node Vfs, a built-in (or no) merge operator and no filter object (a
 *  filter module is fine); else jobs run inline. */
export function chooseRunner(options: ResolvedOptions, newFileNumber: () => number): JobRunner {
  const op = options.mergeOperator
  const builtin = op === undefined || resolveMergeOperator(op.name) === op
  const filter = options.compactionFilter
  const filterObject = filter !== undefined && !isCompactionFilterModule(filter) ? filter : undefined
  if (options.vfs instanceof NodeVfs && builtin && filterObject === undefined && options.backgroundThreads > 0) {
    return new WorkerRunner(options.backgroundThreads, newFileNumber)
  }
  return new InlineRunner(options.vfs, newFileNumber, op, filterObject)
}

function bound(value: KeyInput | undefined, name: string): Buffer | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw invalidArgument(`${name} must be a Uint8Array or a string`)
  return copyBytes(toBuffer(value))
}

export function resolveBounds(options: IteratorOptions): IteratorBounds {
  const out: IteratorBounds = {}
  const gt = bound(options.gt, 'gt')
  const gte = bound(options.gte, 'gte')
  const lt = bound(options.lt, 'lt')
  const lte = bound(options.lte, 'lte')
  const prefix = bound(options.prefix, 'prefix')
  if (gte !== undefined) out.lower = gte
  if (gt !== undefined && (out.lower === undefined || Buffer.compare(gt, out.lower) >= 0)) {
    out.lower = gt
    out.lowerExclusive = true
  }
  if (lt !== undefined) out.upper = lt
  if (lte !== undefined && (out.upper === undefined || Buffer.compare(lte, out.upper) < 0)) {
    out.upper = lte
    out.upperInclusive = true
  }
  if (prefix !== undefined && prefix.length > 0) {
    if (out.lower === undefined || Buffer.compare(prefix, out.lower) > 0) {
      out.lower = prefix
      out.lowerExclusive = false
    }
    const end = prefixSuccessor(prefix)
    if (end !== undefined && (out.upper === undefined || Buffer.compare(end, out.upper) <= 0)) {
      out.upper = end
      out.upperInclusive = false
    }
  }
  return out
}
