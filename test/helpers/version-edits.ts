/**
 * Test helpers for the version layer: TableMeta factories, random (valid) edit sequences and
 * Version comparison. Keys are 4-byte big-endian numbers so bytewise order is numeric order.
 */
import { applyEdit } from '../../src/engine/version/compose.js'
import type { BlobMeta, TableMeta } from '../../src/engine/version/file-metadata.js'
import { emptyEdit, type VersionEdit } from '../../src/engine/version/version-edit.js'
import type { Version } from '../../src/engine/version/version.js'
import { LEVEL_COUNT } from '../../src/engine/options.js'
import type { Prng } from './prng.js'

/** Largest numeric key the generators use. */
export const KEY_SPACE = 1_000_000

export function key(n: number): Buffer {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(n, 0)
  return out
}

export function table(
  id: number,
  level: number,
  smallest: number,
  largest: number,
  extra: Partial<TableMeta> = {},
): TableMeta {
  return {
    id,
    level,
    sizeBytes: 1000 + id,
    checksum: (id * 2654435761) >>> 0,
    smallestKey: key(smallest),
    largestKey: key(largest),
    smallestSeqno: id * 10,
    largestSeqno: id * 10 + 5,
    entries: 10,
    rangeTombstones: 0,
    ...extra,
  }
}

/** A random TableMeta with arbitrary (valid) field values, for codec round trips. */
export function randomTableMeta(rng: Prng, id: number): TableMeta {
  const a = rng.bytes(rng.pick([0, 1, 3, 16, 200, 65_535]))
  const b = rng.bytes(rng.pick([0, 1, 5, 40, 65_535]))
  const [smallestKey, largestKey] = Buffer.compare(a, b) <= 0 ? [a, b] : [b, a]
  const smallestSeqno = rng.pick([0, 1, 127, 128, rng.int(2 ** 32), Number.MAX_SAFE_INTEGER - 1])
  return {
    id,
    level: rng.int(LEVEL_COUNT),
    sizeBytes: rng.pick([0, 1, 4096, rng.int(2 ** 40)]),
    checksum: rng.int(2 ** 32),
    smallestKey,
    largestKey,
    smallestSeqno,
    largestSeqno: smallestSeqno + rng.int(Math.min(1000, Number.MAX_SAFE_INTEGER - smallestSeqno)),
    entries: rng.int(2 ** 33),
    rangeTombstones: rng.int(5),
  }
}

/** A random edit of arbitrary (not necessarily applicable) content, for codec round trips. */
export function randomEdit(rng: Prng): VersionEdit {
  const edit = emptyEdit()
  const maybe = (p: number): boolean => rng.bool(p)
  if (maybe(0.8)) edit.versionId = rng.int(2 ** 40)
  if (maybe(0.5)) edit.lastSeqno = rng.pick([0, 1, rng.int(2 ** 52), Number.MAX_SAFE_INTEGER])
  if (maybe(0.5)) edit.nextFileNumber = rng.int(2 ** 30) + 1
  if (maybe(0.5)) edit.logNumber = rng.int(2 ** 30)
  if (maybe(0.3)) edit.treeId = `tree-${rng.int(1e9)}-é✓`
  if (maybe(0.3)) edit.mergeOperatorName = rng.bool() ? null : rng.pick(['counter', 'append', 'max'])
  if (maybe(0.3)) edit.comparatorName = 'strata.bytewise'
  const tableCount = rng.int(6)
  for (let i = 0; i < tableCount; i++) edit.addTables.push(randomTableMeta(rng, rng.int(2 ** 40) + 1))
  for (let i = rng.int(6); i > 0; i--) edit.removeTables.push({ level: rng.int(LEVEL_COUNT), id: rng.int(2 ** 40) + 1 })
  for (let i = rng.int(3); i > 0; i--) {
    edit.addBlobFiles.push({ id: rng.int(2 ** 40) + 1, sizeBytes: rng.int(2 ** 40), checksum: rng.int(2 ** 32) })
  }
  for (let i = rng.int(3); i > 0; i--) edit.removeBlobFiles.push(rng.int(2 ** 40) + 1)
  return edit
}

/** Generates edits that are valid in sequence from a starting Version (flushes, compactions, moves). */
export class EditSequence {
  nextSeqno: number
  version: Version
  /** The last logNumber handed out; grows by one per edit. */
  logNumber: number
  readonly #allocateId: () => number

  /**
   * `allocateId` hands out file numbers (e.g. VersionSet.newFileNumber); default 100, 101, ...
   * `logNumber`: where logNumbers continue from (a recovered VersionSet's logNumber).
   */
  constructor(readonly rng: Prng, start: Version, allocateId?: () => number, logNumber = 0) {
    this.version = start
    this.logNumber = logNumber
    let nextId = 100
    this.#allocateId = allocateId ?? (() => nextId++)
    this.nextSeqno = 1 + Math.max(0, ...start.allTables().map((t) => t.largestSeqno))
  }

  #newTable(level: number, smallest: number, largest: number): TableMeta {
    const id = this.#allocateId()
    const seqno = this.nextSeqno
    this.nextSeqno += 1 + this.rng.int(50)
    return table(id, level, smallest, largest, { smallestSeqno: seqno, largestSeqno: this.nextSeqno - 1 })
  }

  #flush(edit: VersionEdit): void {
    for (let i = this.rng.range(1, 2); i > 0; i--) {
      const a = this.rng.int(KEY_SPACE)
      const b = this.rng.int(KEY_SPACE)
      edit.addTables.push(this.#newTable(0, Math.min(a, b), Math.max(a, b)))
    }
  }

  /** Splits [low, high] into 1..4 sorted pieces, sometimes sharing a boundary key. */
  #split(level: number, low: number, high: number, edit: VersionEdit): void {
    const cuts = new Set<number>()
    for (let i = this.rng.int(4); i > 0 && high - low > 4; i--) cuts.add(low + 1 + this.rng.int(high - low - 2))
    let start = low
    for (const cut of [...cuts].sort((x, y) => x - y)) {
      if (cut <= start) continue
      const shared = this.rng.bool(0.3)
      edit.addTables.push(this.#newTable(level, start, shared ? cut : cut - 1))
      start = cut
    }
    edit.addTables.push(this.#newTable(level, start, high))
  }

  #compact(edit: VersionEdit, level: number): void {
    const tables = this.version.levels[level] ?? []
    if (tables.length === 0) return
    const inputs = level === 0 ? [...tables] : [this.rng.pick(tables)]
    let low = Math.min(...inputs.map((t) => t.smallestKey.readUInt32BE(0)))
    let high = Math.max(...inputs.map((t) => t.largestKey.readUInt32BE(0)))
    const below = this.version.overlappingTables(level + 1, key(low), key(high))
    for (const t of below) {
      low = Math.min(low, t.smallestKey.readUInt32BE(0))
      high = Math.max(high, t.largestKey.readUInt32BE(0))
    }
    for (const t of [...inputs, ...below]) edit.removeTables.push({ level: t.level, id: t.id })
    this.#split(level + 1, low, high, edit)
  }

  #move(edit: VersionEdit, level: number): void {
    const tables = this.version.levels[level] ?? []
    if (tables.length === 0) return
    const candidate = this.rng.pick(tables)
    if (this.version.overlappingTables(level + 1, candidate.smallestKey, candidate.largestKey).length > 0) return
    edit.removeTables.push({ level, id: candidate.id })
    edit.addTables.push({ ...candidate, level: level + 1 })
  }

  #blobs(edit: VersionEdit): void {
    if (this.rng.bool(0.5)) edit.addBlobFiles.push(blob(this.#allocateId()))
    const present = this.version.blobFiles
    if (present.length > 0 && this.rng.bool(0.5)) edit.removeBlobFiles.push(this.rng.pick(present).id)
  }

  /** The next edit; also applies it to `this.version`. */
  next(): VersionEdit {
    const edit = emptyEdit()
    const level = this.rng.int(LEVEL_COUNT - 1)
    const choice = this.rng.int(10)
    if (choice < 4) this.#flush(edit)
    else if (choice < 7) this.#compact(edit, level)
    else if (choice < 9) this.#move(edit, level)
    else this.#blobs(edit)
    if (this.rng.bool(0.5)) edit.lastSeqno = this.nextSeqno - 1
    this.logNumber++
    if (this.rng.bool(0.3)) edit.logNumber = this.logNumber
    this.version = applyEdit(this.version, edit, this.version.id + 1)
    return edit
  }
}

export function blob(id: number): BlobMeta {
  return { id, sizeBytes: 10_000 + id, checksum: (id * 40503) >>> 0 }
}

/** A plain, comparable picture of a Version's files (for t.same). */
export function describeVersion(version: Version): {
  id: number
  levels: { id: number; meta: TableMeta }[][]
  blobFiles: BlobMeta[]
} {
  return {
    id: version.id,
    levels: version.levels.map((tables) => tables.map((t) => ({ id: t.id, meta: { ...t } }))),
    blobFiles: version.blobFiles.map((b) => ({ ...b })),
  }
}

/** Files only (no id): two Versions reached by different paths compare equal. */
export function describeFiles(version: Version): Omit<ReturnType<typeof describeVersion>, 'id'> {
  const { levels, blobFiles } = describeVersion(version)
  return { levels, blobFiles }
}
