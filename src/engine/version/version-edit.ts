/**
 * VersionEdit: the one delta type between two Versions (manifest records, flush and compaction
 * results, replication deltas), and its binary encoding (leveldb db/version_edit.cc, pebble
 * internal/manifest/version_edit.go). Spec: docs/format/manifest.md.
 *
 * Encoded edit (one manifest record):
 *
 *   +-----------+-------+-------+-----+-------+
 *   | format u8 | field | field | ... | field |      format = EDIT_FORMAT_VERSION (1)
 *   +-----------+-------+-------+-----+-------+
 *
 *   field:  +-------------+----------------------+-------------------------+
 *           | tag varint  | payload bytes varint | payload                 |
 *           +-------------+----------------------+-------------------------+
 *
 *   tag  name               payload
 *    1   comparatorName     UTF-8 bytes (1..NAME_BYTES_MAX)
 *    2   logNumber          varint
 *    3   nextFileNumber     varint
 *    4   lastSeqno          varint
 *    5   versionId          varint
 *    6   treeId             UTF-8 bytes (1..NAME_BYTES_MAX)
 *    7   mergeOperatorName  u8 0 (none) | u8 1, UTF-8 bytes (1..NAME_BYTES_MAX)
 *    8   removeTable        level varint | id varint
 *    9   addTable           level varint | id varint | sizeBytes varint | checksum u32 LE |
 *                           smallestSeqno varint | largestSeqno varint | entries varint |
 *                           rangeTombstones varint | smallestKey (varint length, bytes) |
 *                           largestKey (varint length, bytes)
 *   10   removeBlobFile     id varint
 *   11   addBlobFile        id varint | sizeBytes varint | checksum u32 LE
 * 1001   tableCreatedAt     id varint | createdAtMs varint          (optional, safe tag)
 * 1002   replicatedVersionId varint                                (optional, safe tag)
 *
 * Fields are written in this order: scalars (5, 1, 6, 7, 2, 3, 4, 1002), then 8, then each 9 followed
 * by its 1001 when the table has a createdAtMs, then 10, 11; the decoder accepts any order and
 * keeps list order.
 *
 * replicatedVersionId is written only by a follower (replication): the leader's versionId the
 * follower's Version equals after this edit. It is a scalar (at most once per edit) and a
 * snapshot edit carries it too, so the follower's position survives manifest rollover.
 *
 * tableCreatedAt annotates the addTable of the same id in the same edit (TableMeta.createdAtMs,
 * FIFO's age cap). It is optional: a reader that predates it skips it and sees an unknown
 * creation time; a table without it decodes with no createdAtMs (= 0, unknown). An annotation
 * for an id the edit does not add, or a second one for the same id, is CORRUPTION. Tag 1000
 * stays unassigned.
 *
 * Invariants:
 * - A known tag's payload is consumed exactly; anything else is CORRUPTION. New table
 *   attributes get a new tag, never extra bytes in an old one.
 * - An unknown tag >= SAFE_TAG_MIN is skipped (a newer writer's optional field); an unknown
 *   tag below it is refused with UNSUPPORTED. An unknown format byte is UNSUPPORTED.
 * - Scalars appear at most once per edit. Every length and count read from disk is bounded.
 * - The checksum of the record is the log framing's job (wal/log-writer.ts); this layer
 *   validates structure and bounds.
 */
import { assert } from '../base/assert.js'
import { ByteReader, ByteWriter, DecodeError } from '../base/coding.js'
import { KEY_BYTES_MAX } from '../base/internal-key.js'
import { corruption, ErrorCode, StrataError } from '../errors.js'
import { LEVEL_COUNT } from '../options.js'
import type { BlobMeta, TableMeta } from './file-metadata.js'

export interface VersionEdit {
  /** The id of the Version this edit produces. */
  versionId?: number
  lastSeqno?: number
  nextFileNumber?: number
  /** WALs with a number below this are fully flushed (0 = none yet). */
  logNumber?: number
  /** Only the first (snapshot) edit of a manifest carries these three. */
  treeId?: string
  mergeOperatorName?: string | null
  comparatorName?: string
  /** Follower only: the leader versionId this Version replicates (safe tag 1002). */
  replicatedVersionId?: number
  /** A move between levels is a remove at the old level plus an add at the new one. */
  addTables: TableMeta[]
  removeTables: { level: number; id: number }[]
  addBlobFiles: BlobMeta[]
  removeBlobFiles: number[]
}

/** DO NOT CHANGE: on disk. */
export const EditTag = {
  ComparatorName: 1,
  LogNumber: 2,
  NextFileNumber: 3,
  LastSeqno: 4,
  VersionId: 5,
  TreeId: 6,
  MergeOperatorName: 7,
  RemoveTable: 8,
  AddTable: 9,
  RemoveBlobFile: 10,
  AddBlobFile: 11,
} as const

/** DO NOT CHANGE: on disk. Tags from here up are optional: a reader that lacks them skips them. */
export const SAFE_TAG_MIN = 1000

/** DO NOT CHANGE: on disk. Optional tags this build knows (>= SAFE_TAG_MIN). */
export const SafeEditTag = {
  TableCreatedAt: 1001,
  ReplicatedVersionId: 1002,
} as const
/** DO NOT CHANGE: on disk. The first byte of every encoded edit. */
export const EDIT_FORMAT_VERSION = 1
/** Names (tree id, comparator, merge operator) are short identifiers; longer is corrupt. */
export const NAME_BYTES_MAX = 256
/** Tables per edit: a million 64 MiB tables is 64 TiB, far past one tree; more is corrupt. */
export const EDIT_TABLES_MAX = 1_000_000
/** Blob files per edit, bounded for the same reason as tables. */
export const EDIT_BLOB_FILES_MAX = 1_000_000

assert(SAFE_TAG_MIN > EditTag.AddBlobFile, 'known required tags lie below the safe range')
assert(SafeEditTag.TableCreatedAt >= SAFE_TAG_MIN, 'optional tags lie in the safe range')
assert(KEY_BYTES_MAX <= 0xffff, 'key lengths fit a u16')

export function emptyEdit(): VersionEdit {
  return { addTables: [], removeTables: [], addBlobFiles: [], removeBlobFiles: [] }
}

// ---------------------------------------------------------------- encode

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0
}

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff
}

function assertTableMeta(table: TableMeta): void {
  assert(isCount(table.id) && table.id >= 1, 'table id is a file number')
  assert(Number.isInteger(table.level) && table.level >= 0 && table.level < LEVEL_COUNT, 'table level')
  assert(isCount(table.sizeBytes), 'table sizeBytes')
  assert(isU32(table.checksum), 'checksum is a u32')
  assert(table.smallestKey.length <= KEY_BYTES_MAX, 'smallest key too long')
  assert(table.largestKey.length <= KEY_BYTES_MAX, 'largest key too long')
  assert(Buffer.compare(table.smallestKey, table.largestKey) <= 0, 'smallestKey <= largestKey')
  assert(isCount(table.smallestSeqno) && isCount(table.largestSeqno), 'table seqnos')
  assert(table.smallestSeqno <= table.largestSeqno, 'smallestSeqno <= largestSeqno')
  assert(isCount(table.entries) && isCount(table.rangeTombstones), 'table counts')
}

function assertName(name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8')
  assert(bytes.length >= 1, 'a name is not empty')
  assert(bytes.length <= NAME_BYTES_MAX, 'a name is at most NAME_BYTES_MAX bytes')
  return bytes
}

function field(out: ByteWriter, tag: number, payload: ByteWriter): void {
  const bytes = payload.finish()
  out.varint(tag).varint(bytes.length).bytes(bytes)
}

function scalarField(out: ByteWriter, tag: number, value: number | undefined): void {
  if (value === undefined) return
  assert(isCount(value), 'edit scalars are non-negative safe integers')
  field(out, tag, new ByteWriter(10).varint(value))
}

function encodeScalars(out: ByteWriter, edit: VersionEdit): void {
  scalarField(out, EditTag.VersionId, edit.versionId)
  if (edit.comparatorName !== undefined) {
    field(out, EditTag.ComparatorName, new ByteWriter().bytes(assertName(edit.comparatorName)))
  }
  if (edit.treeId !== undefined) {
    field(out, EditTag.TreeId, new ByteWriter().bytes(assertName(edit.treeId)))
  }
  if (edit.mergeOperatorName !== undefined) {
    const payload = new ByteWriter()
    if (edit.mergeOperatorName === null) payload.u8(0)
    else payload.u8(1).bytes(assertName(edit.mergeOperatorName))
    field(out, EditTag.MergeOperatorName, payload)
  }
  scalarField(out, EditTag.LogNumber, edit.logNumber)
  scalarField(out, EditTag.NextFileNumber, edit.nextFileNumber)
  scalarField(out, EditTag.LastSeqno, edit.lastSeqno)
  scalarField(out, SafeEditTag.ReplicatedVersionId, edit.replicatedVersionId)
}

function encodeAddTable(table: TableMeta): ByteWriter {
  assertTableMeta(table)
  return new ByteWriter(64 + table.smallestKey.length + table.largestKey.length)
    .varint(table.level).varint(table.id).varint(table.sizeBytes).u32(table.checksum)
    .varint(table.smallestSeqno).varint(table.largestSeqno)
    .varint(table.entries).varint(table.rangeTombstones)
    .lengthPrefixed(table.smallestKey).lengthPrefixed(table.largestKey)
}

export function encodeVersionEdit(edit: VersionEdit): Buffer {
  assert(Math.max(edit.addTables.length, edit.removeTables.length) <= EDIT_TABLES_MAX, 'tables per edit')
  assert(Math.max(edit.addBlobFiles.length, edit.removeBlobFiles.length) <= EDIT_BLOB_FILES_MAX, 'blob files per edit')
  const out = new ByteWriter(64 + edit.addTables.length * 96).u8(EDIT_FORMAT_VERSION)
  encodeScalars(out, edit)
  for (const { level, id } of edit.removeTables) {
    assert(Number.isInteger(level) && level >= 0 && level < LEVEL_COUNT, 'removed table level')
    assert(isCount(id) && id >= 1, 'removed table id')
    field(out, EditTag.RemoveTable, new ByteWriter(20).varint(level).varint(id))
  }
  for (const table of edit.addTables) {
    field(out, EditTag.AddTable, encodeAddTable(table))
    if (table.createdAtMs === undefined) continue
    assert(isCount(table.createdAtMs), 'createdAtMs is a non-negative safe integer')
    field(out, SafeEditTag.TableCreatedAt, new ByteWriter(20).varint(table.id).varint(table.createdAtMs))
  }
  for (const id of edit.removeBlobFiles) {
    assert(isCount(id) && id >= 1, 'removed blob file id')
    field(out, EditTag.RemoveBlobFile, new ByteWriter(10).varint(id))
  }
  for (const blob of edit.addBlobFiles) {
    assert(isCount(blob.id) && blob.id >= 1 && isCount(blob.sizeBytes), 'blob file id and size')
    assert(isU32(blob.checksum), 'checksum is a u32')
    const payload = new ByteWriter(24).varint(blob.id).varint(blob.sizeBytes).u32(blob.checksum)
    field(out, EditTag.AddBlobFile, payload)
  }
  return out.finish()
}

// ---------------------------------------------------------------- decode

/** A structural problem inside the record; turned into CORRUPTION naming the file. */
class EditFormatError extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new EditFormatError(message)
}

function decodeName(payload: ByteReader, what: string): string {
  check(payload.remaining >= 1 && payload.remaining <= NAME_BYTES_MAX, `${what} length out of bounds`)
  return payload.bytes(payload.remaining).toString('utf8')
}

function decodeLevel(payload: ByteReader): number {
  const level = payload.varint()
  check(level < LEVEL_COUNT, `level ${level} out of range`)
  return level
}

function decodeFileNumber(payload: ByteReader): number {
  const id = payload.varint()
  check(id >= 1, 'file number 0')
  return id
}

function decodeKey(payload: ByteReader): Buffer {
  return Buffer.from(payload.lengthPrefixed(KEY_BYTES_MAX))
}

function decodeAddTable(payload: ByteReader): TableMeta {
  const level = decodeLevel(payload)
  const id = decodeFileNumber(payload)
  const sizeBytes = payload.varint()
  const checksum = payload.u32()
  const smallestSeqno = payload.varint()
  const largestSeqno = payload.varint()
  const entries = payload.varint()
  const rangeTombstones = payload.varint()
  const smallestKey = decodeKey(payload)
  const largestKey = decodeKey(payload)
  check(smallestSeqno <= largestSeqno, 'table seqno range inverted')
  check(Buffer.compare(smallestKey, largestKey) <= 0, 'table key range inverted')
  return {
    id, level, sizeBytes, checksum, smallestKey, largestKey,
    smallestSeqno, largestSeqno, entries, rangeTombstones,
  }
}

type ScalarKey = Exclude<keyof VersionEdit, 'addTables' | 'removeTables' | 'addBlobFiles' | 'removeBlobFiles'>

function setOnce<K extends ScalarKey>(edit: VersionEdit, key: K, value: VersionEdit[K]): void {
  check(edit[key] === undefined, `${key} appears twice`)
  edit[key] = value
}

function decodeMergeOperatorName(payload: ByteReader): string | null {
  const flag = payload.u8()
  check(flag <= 1, 'merge operator flag')
  return flag === 0 ? null : decodeName(payload, 'merge operator name')
}

/** Applies one known field to `edit` (or to `createdAt`, id -> ms); false when `tag` is unknown. */
function decodeField(edit: VersionEdit, createdAt: Map<number, number>, tag: number, payload: ByteReader): boolean {
  switch (tag) {
    case EditTag.ComparatorName: setOnce(edit, 'comparatorName', decodeName(payload, 'comparator name')); break
    case EditTag.LogNumber: setOnce(edit, 'logNumber', payload.varint()); break
    case EditTag.NextFileNumber: setOnce(edit, 'nextFileNumber', payload.varint()); break
    case EditTag.LastSeqno: setOnce(edit, 'lastSeqno', payload.varint()); break
    case EditTag.VersionId: setOnce(edit, 'versionId', payload.varint()); break
    case EditTag.TreeId: setOnce(edit, 'treeId', decodeName(payload, 'tree id')); break
    case EditTag.MergeOperatorName: setOnce(edit, 'mergeOperatorName', decodeMergeOperatorName(payload)); break
    case EditTag.RemoveTable: {
      const level = decodeLevel(payload)
      edit.removeTables.push({ level, id: decodeFileNumber(payload) })
      break
    }
    case EditTag.AddTable: edit.addTables.push(decodeAddTable(payload)); break
    case EditTag.RemoveBlobFile: edit.removeBlobFiles.push(decodeFileNumber(payload)); break
    case EditTag.AddBlobFile: {
      const id = decodeFileNumber(payload)
      edit.addBlobFiles.push({ id, sizeBytes: payload.varint(), checksum: payload.u32() })
      break
    }
    case SafeEditTag.ReplicatedVersionId: setOnce(edit, 'replicatedVersionId', payload.varint()); break
    case SafeEditTag.TableCreatedAt: {
      const id = decodeFileNumber(payload)
      check(!createdAt.has(id), `tableCreatedAt for table ${id} appears twice`)
      createdAt.set(id, payload.varint())
      break
    }
    default: return false
  }
  check(payload.done, `tag ${tag} payload has ${payload.remaining} trailing bytes`)
  return true
}

/** Sets createdAtMs on the added tables the annotations name; every annotation must match one. */
function applyCreatedAt(edit: VersionEdit, createdAt: Map<number, number>): void {
  if (createdAt.size === 0) return
  const matched = new Set<number>()
  for (const table of edit.addTables) {
    const createdAtMs = createdAt.get(table.id)
    if (createdAtMs === undefined) continue
    table.createdAtMs = createdAtMs
    matched.add(table.id)
  }
  check(matched.size === createdAt.size, 'tableCreatedAt names a table this edit does not add')
}

function decodeFields(record: Buffer, reader: ByteReader, fileName: string, offset: number): VersionEdit {
  const edit = emptyEdit()
  const createdAt = new Map<number, number>()
  while (!reader.done) {
    const tag = reader.varint()
    const payloadBytes = reader.varint()
    check(payloadBytes <= reader.remaining, `tag ${tag} payload runs past the record`)
    const payload = new ByteReader(record, reader.pos, reader.pos + payloadBytes)
    reader.pos += payloadBytes
    if (decodeField(edit, createdAt, tag, payload) || tag >= SAFE_TAG_MIN) {
      check(edit.addTables.length <= EDIT_TABLES_MAX, 'too many added tables')
      check(edit.removeTables.length <= EDIT_TABLES_MAX, 'too many removed tables')
      check(edit.addBlobFiles.length <= EDIT_BLOB_FILES_MAX, 'too many added blob files')
      check(edit.removeBlobFiles.length <= EDIT_BLOB_FILES_MAX, 'too many removed blob files')
      continue
    }
    throw new StrataError(
      ErrorCode.UNSUPPORTED,
      `${fileName} at offset ${offset}: version edit tag ${tag} is unknown to this build ` +
        '(written by a newer Strata?)',
      { file: fileName, offset },
    )
  }
  applyCreatedAt(edit, createdAt)
  return edit
}

/**
 * Decodes one manifest record. `fileName` (a base name) and `offset` (where the record starts
 * in that file) only label errors. Throws CORRUPTION for malformed bytes, UNSUPPORTED for an
 * unknown format byte or unknown required tag. Keys in the result are copies.
 */
export function decodeVersionEdit(record: Buffer, fileName: string, offset: number): VersionEdit {
  assert(!fileName.includes('/'), 'errors name a base name, never a path')
  assert(Number.isSafeInteger(offset) && offset >= 0, 'record offset')
  const reader = new ByteReader(record)
  try {
    if (record.length === 0) throw new EditFormatError('empty record')
    const format = reader.u8()
    if (format !== EDIT_FORMAT_VERSION) {
      throw new StrataError(
        ErrorCode.UNSUPPORTED,
        `${fileName} at offset ${offset}: version edit format ${format} is not supported ` +
          `(this build reads ${EDIT_FORMAT_VERSION})`,
        { file: fileName, offset },
      )
    }
    const edit = decodeFields(record, reader, fileName, offset)
    assert(reader.done, 'decoder consumed the whole record')
    return edit
  } catch (err) {
    if (err instanceof EditFormatError || err instanceof DecodeError) {
      const recordByte = err instanceof DecodeError ? err.offset : reader.pos
      throw corruption(`bad version edit: ${err.message} (record byte ${recordByte})`, fileName, offset)
    }
    throw err
  }
}
