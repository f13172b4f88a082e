/**
 * FIFO compaction picking (RocksDB FIFOCompactionPicker, coordinode-lsm-tree Fifo): never
 * merges, only drops whole tables, oldest first. For insert-mostly data with a size or age
 * budget (logs, metrics). Pure: (Version, options, state) -> task; see picker.ts.
 *
 * Age order: by largestSeqno ascending, then id ascending, over every level (normally all
 * tables are in L0; tables in L1+ left by another strategy are aged the same way). Drops
 * always take a PREFIX of that order: dropping a newer table while an older one stays could
 * bring back an older version of an overwritten key. A busy table ends the prefix.
 *
 * 1. fifo-ttl (ttlSeconds > 0): the prefix of tables whose createdAtMs is known (> 0) and at
 *    least ttlSeconds before nowMs. A table of unknown age (createdAtMs 0: older manifests)
 *    is never dropped for age, and ends the prefix; the size cap still applies to it.
 * 2. fifo-size (maxTotalBytes > 0): while the tree holds more than maxTotalBytes, the prefix
 *    whose removal brings it back to at most maxTotalBytes.
 * A drop task's outputLevel is 0 and bottommost is false: nothing is written.
 */
import { assert } from '../base/assert.js'
import { tableCreatedAtMs, type TableMeta } from '../version/file-metadata.js'
import { compareBySmallestKey, compareL0, type Version } from '../version/version.js'
import type { CompactionOptions, CompactionTask, PickerState } from './picker.js'

/** FIFO age order (file comment): oldest first. A fresh array. */
export function tablesOldestFirst(version: Version): TableMeta[] {
  return version.allTables().sort((a, b) => a.largestSeqno - b.largestSeqno || a.id - b.id)
}

/** Groups dropped tables by level, shallower first, each in its level's order (picker.ts). */
function dropTask(reason: 'fifo-ttl' | 'fifo-size', tables: readonly TableMeta[], score: number): CompactionTask {
  assert(tables.length >= 1, 'a drop drops something')
  const byLevel = new Map<number, TableMeta[]>()
  for (const table of tables) {
    const list = byLevel.get(table.level) ?? []
    list.push(table)
    byLevel.set(table.level, list)
  }
  const inputs = [...byLevel.entries()]
    .sort(([a], [b]) => a - b)
    .map(([level, list]) => ({ level, tables: list.sort(level === 0 ? compareL0 : compareBySmallestKey) }))
  return { kind: 'drop', reason, inputs, outputLevel: 0, bottommost: false, score }
}

function ttlTask(oldestFirst: readonly TableMeta[], options: CompactionOptions, state: PickerState): CompactionTask | undefined {
  const ttlMs = options.fifo.ttlSeconds * 1000
  if (ttlMs === 0 || oldestFirst.length === 0) return undefined
  const expired: TableMeta[] = []
  for (const table of oldestFirst) {
    const createdAtMs = tableCreatedAtMs(table)
    if (state.busyTableIds.has(table.id) || createdAtMs === 0) break
    if (state.nowMs - createdAtMs < ttlMs) break
    expired.push(table)
  }
  if (expired.length === 0) return undefined
  const oldestAgeMs = state.nowMs - tableCreatedAtMs(expired[0] as TableMeta)
  assert(oldestAgeMs >= ttlMs, 'expired tables are at least ttl old')
  return dropTask('fifo-ttl', expired, oldestAgeMs / ttlMs)
}

function sizeTask(version: Version, oldestFirst: readonly TableMeta[], options: CompactionOptions, state: PickerState): CompactionTask | undefined {
  const maxTotalBytes = options.fifo.maxTotalBytes
  const totalBytes = version.totalBytes()
  if (maxTotalBytes === 0 || totalBytes <= maxTotalBytes) return undefined
  const dropped: TableMeta[] = []
  let remainingBytes = totalBytes
  for (const table of oldestFirst) {
    if (remainingBytes <= maxTotalBytes || state.busyTableIds.has(table.id)) break
    dropped.push(table)
    remainingBytes -= table.sizeBytes
  }
  if (dropped.length === 0) return undefined
  return dropTask('fifo-size', dropped, totalBytes / maxTotalBytes)
}

/** FIFO strategy: see the file comment. */
export function pickFifo(version: Version, options: CompactionOptions, state: PickerState): CompactionTask | undefined {
  const oldestFirst = tablesOldestFirst(version)
  return ttlTask(oldestFirst, options, state) ?? sizeTask(version, oldestFirst, options, state)
}
