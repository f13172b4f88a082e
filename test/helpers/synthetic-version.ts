/**
 * Synthetic Versions for the compaction pickers (no I/O): TableMeta factories with numeric keys
 * (4-byte big-endian, so bytewise order is numeric order), option and state builders, and a
 * checker that applies a task's simulated result and verifies the picker.ts contract
 * independently of the picker's own code (brute force, no shared helpers).
 */
import { compareBytes } from '../../src/engine/base/bytes.js'
import { DEFAULT_COMPACTION_OPTIONS, type CompactionOptions, type CompactionTask, type PickerState } from '../../src/engine/compaction/picker.js'
import { LEVEL_COUNT } from '../../src/engine/options.js'
import { applyEdit } from '../../src/engine/version/compose.js'
import type { TableMeta } from '../../src/engine/version/file-metadata.js'
import { emptyEdit } from '../../src/engine/version/version-edit.js'
import { Version } from '../../src/engine/version/version.js'

export const KiB = 1024
export const MiB = 1024 * KiB

export function key(n: number): Buffer {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(n, 0)
  return out
}

export function keyNumber(k: Uint8Array): number {
  return Buffer.from(k.buffer, k.byteOffset, k.byteLength).readUInt32BE(0)
}

export interface TableSpec {
  id: number
  level: number
  /** Inclusive numeric key range. */
  from: number
  to: number
  sizeBytes?: number
  /** Seqno range; default id * 100 .. id * 100 + 99 (so a larger id is newer). */
  seqnos?: [number, number]
  createdAtMs?: number
}

export function meta(spec: TableSpec): TableMeta {
  const [smallestSeqno, largestSeqno] = spec.seqnos ?? [spec.id * 100, spec.id * 100 + 99]
  const table: TableMeta = {
    id: spec.id,
    level: spec.level,
    sizeBytes: spec.sizeBytes ?? MiB,
    checksum: 0,
    smallestKey: key(spec.from),
    largestKey: key(spec.to),
    smallestSeqno,
    largestSeqno,
    entries: Math.max(1, spec.to - spec.from + 1),
    rangeTombstones: 0,
  }
  if (spec.createdAtMs !== undefined) table.createdAtMs = spec.createdAtMs
  return table
}

/** A Version holding exactly `tables` (sorted and checked by applyEdit). */
export function versionOf(tables: readonly TableMeta[]): Version {
  return applyEdit(Version.empty(), { ...emptyEdit(), addTables: [...tables] }, 1)
}

export function versionFrom(specs: readonly TableSpec[]): Version {
  return versionOf(specs.map(meta))
}

type OptionOverrides = Partial<Omit<CompactionOptions, 'tiered' | 'fifo'>> & {
  tiered?: Partial<CompactionOptions['tiered']>
  fifo?: Partial<CompactionOptions['fifo']>
}

export function compactionOptions(overrides: OptionOverrides = {}): CompactionOptions {
  const base = DEFAULT_COMPACTION_OPTIONS
  return {
    ...base,
    ...overrides,
    tiered: { ...base.tiered, ...overrides.tiered },
    fifo: { ...base.fifo, ...overrides.fifo },
  }
}

export function pickerState(busy: readonly number[] = [], nowMs = 0): PickerState {
  return { busyTableIds: new Set(busy), nowMs }
}

export function ids(tables: readonly TableMeta[]): number[] {
  return tables.map((table) => table.id)
}

/** Input ids per level, e.g. { 0: [5, 4], 1: [2] }. */
export function inputIds(task: CompactionTask): Record<number, number[]> {
  const out: Record<number, number[]> = {}
  for (const input of task.inputs) out[input.level] = ids(input.tables)
  return out
}

function overlap(a: TableMeta, smallest: Uint8Array, largest: Uint8Array): boolean {
  return compareBytes(a.largestKey, smallest) >= 0 && compareBytes(a.smallestKey, largest) <= 0
}

function hull(tables: readonly TableMeta[]): [Buffer, Buffer] {
  const smallest = tables.map((t) => t.smallestKey).sort(compareBytes)[0]!
  const largest = tables.map((t) => t.largestKey).sort(compareBytes)[tables.length - 1]!
  return [smallest, largest]
}

/** Brute-force bottommost: nothing outside the inputs that could be older overlaps them. */
export function bruteBottommost(version: Version, task: CompactionTask): boolean {
  const inputs = task.inputs.flatMap((input) => input.tables)
  const inputSet = new Set(ids(inputs))
  const [smallest, largest] = hull(inputs)
  const newest = Math.max(...inputs.map((t) => t.largestSeqno))
  for (const table of version.allTables()) {
    if (inputSet.has(table.id) || !overlap(table, smallest, largest)) continue
    if (table.level > task.outputLevel) return false
    if (task.outputLevel === 0 && table.level === 0 && table.smallestSeqno <= newest) return false
  }
  return true
}

/**
 * The Version after the task, with each merge written as ONE output table spanning the
 * inputs' key and seqno hull (the widest output a runner could produce). applyEdit asserts
 * the Version invariants (no overlap in L1+, L0 order).
 */
export function applySimulated(version: Version, task: CompactionTask, outputId: number): Version {
  const edit = emptyEdit()
  const inputs = task.inputs.flatMap((input) => input.tables)
  for (const table of inputs) edit.removeTables.push({ level: table.level, id: table.id })
  if (task.kind === 'move') {
    for (const table of inputs) edit.addTables.push({ ...table, level: task.outputLevel })
  } else if (task.kind === 'merge') {
    const [smallestKey, largestKey] = hull(inputs)
    edit.addTables.push({
      id: outputId, level: task.outputLevel, checksum: 0, smallestKey, largestKey, rangeTombstones: 0,
      sizeBytes: inputs.reduce((n, t) => n + t.sizeBytes, 0), entries: inputs.reduce((n, t) => n + t.entries, 0),
      smallestSeqno: Math.min(...inputs.map((t) => t.smallestSeqno)),
      largestSeqno: Math.max(...inputs.map((t) => t.largestSeqno)),
    })
  }
  return applyEdit(version, edit, version.id + 1)
}

/**
 * Checks the picker.ts contract for `task` picked from `version` under `state`; returns a list
 * of violations (empty = fine). Also applies the simulated result (throws if it breaks an
 * invariant) and checks L0 age order: overlapping L0 tables have disjoint seqno ranges.
 */
export function contractViolations(version: Version, task: CompactionTask, state: PickerState): string[] {
  const problems: string[] = []
  const inputs = task.inputs.flatMap((input) => input.tables)
  for (const table of inputs) if (state.busyTableIds.has(table.id)) problems.push(`busy input ${table.id}`)
  if (task.bottommost !== bruteBottommost(version, task)) problems.push(`bottommost ${task.bottommost} is wrong`)
  for (const input of task.inputs) {
    if (input.level === 0 || task.kind === 'drop') continue
    const [smallest, largest] = hull(input.tables)
    const inputSet = new Set(ids(input.tables))
    for (const table of version.levels[input.level]!) {
      if (!inputSet.has(table.id) && overlap(table, smallest, largest)) {
        problems.push(`L${input.level} table ${table.id} left behind inside the inputs' range (not a clean cut)`)
      }
    }
  }
  const after = applySimulated(version, task, 1_000_000 + version.id)
  problems.push(...level0AgeProblems(after))
  return problems
}

/** Overlapping L0 tables must have disjoint seqno ranges (else age order is ambiguous). */
export function level0AgeProblems(version: Version): string[] {
  const problems: string[] = []
  const level0 = version.levels[0]!
  for (let i = 0; i < level0.length; i++) {
    for (let j = i + 1; j < level0.length; j++) {
      const [a, b] = [level0[i]!, level0[j]!]
      const disjointSeqnos = a.smallestSeqno > b.largestSeqno || b.smallestSeqno > a.largestSeqno
      if (overlap(a, b.smallestKey, b.largestKey) && !disjointSeqnos) {
        problems.push(`L0 tables ${a.id} and ${b.id} overlap in keys and seqnos`)
      }
    }
  }
  return problems
}

/** Total bytes per level, for readable assertions. */
export function levelBytes(version: Version): number[] {
  return Array.from({ length: LEVEL_COUNT }, (_, level) => version.levelBytes(level))
}

/** What randomVersion needs of a PRNG (test/helpers/prng.ts Prng fits). */
export interface RandomSource {
  int(n: number): number
  bool(p?: number): boolean
}

/**
 * A random valid Version over keys [0, keySpace): sorted levels L6 up to L1 (deeper = older:
 * smaller ids and seqnos), neighbours sometimes sharing a boundary key, some levels empty; then
 * `level0Files` L0 tables with random, overlapping ranges (newest = largest id).
 */
export function randomVersion(rng: RandomSource, options: { keySpace: number; level0Files: number; sizeBytesMax: number }): Version {
  const tables: TableMeta[] = []
  let id = 1
  const size = (): number => 1 + rng.int(options.sizeBytesMax)
  for (let level = LEVEL_COUNT - 1; level >= 1; level--) {
    if (rng.bool(0.3)) continue
    let from = rng.int(options.keySpace / 4)
    while (from < options.keySpace && rng.bool(0.9)) {
      const to = Math.min(options.keySpace, from + rng.int(options.keySpace / 8))
      tables.push(meta({ id, level, from, to, sizeBytes: size() }))
      id++
      if (to >= options.keySpace) break
      // Share the boundary key only when that keeps smallest keys strictly ascending.
      from = to > from && rng.bool(0.3) ? to : to + 1 + rng.int(options.keySpace / 8)
    }
  }
  for (let i = 0; i < options.level0Files; i++) {
    const from = rng.int(options.keySpace)
    const to = Math.min(options.keySpace, from + rng.int(options.keySpace / 3))
    tables.push(meta({ id: id++, level: 0, from, to, sizeBytes: size() }))
  }
  return versionOf(tables)
}

/** A random subset of the Version's table ids (each with probability p). */
export function randomBusy(rng: RandomSource, version: Version, p: number): number[] {
  return version.allTables().filter(() => rng.bool(p)).map((table) => table.id)
}
