/**
 * The replication protocol's JSON (API.md "Replication"; docs/replication.md): the leader's
 * state and deltas as they travel, and their strict parsing on the follower. A follower never
 * trusts the leader's bytes: every field is type- and range-checked here before the engine
 * sees it, and files are checked against size and CRC-32C when they arrive.
 *
 * Table metadata on the wire:
 *   { "id", "level", "size", "checksum" (CRC-32C of the whole file, 8 lowercase hex digits,
 *     also the file's ETag), "smallestKey", "largestKey" (base64), "smallestSeqno",
 *     "largestSeqno", "entries", "rangeTombstones", "createdAtMs"? }
 */
import type { LeasedDelta, ReplicationDelta, ReplicationState, TableMeta } from '../engine/index.js'

/** Bumped when a field changes meaning; a follower refuses a leader that speaks another one. */
export const PROTOCOL_VERSION = 1
/** Levels of the engine (LEVEL_COUNT): a table level outside 0..6 is refused. */
const LEVELS = 7
/** A delta naming more files than this is not one a leader sends. */
export const DELTA_FILES_MAX = 1_000_000
/** Keys are at most 65,535 bytes; base64 of that is 87,380 characters. */
const KEY_BASE64_CHARS_MAX = 87_384

export interface WireTable {
  id: number
  level: number
  size: number
  checksum: string
  smallestKey: string
  largestKey: string
  smallestSeqno: number
  largestSeqno: number
  entries: number
  rangeTombstones: number
  createdAtMs?: number
}

export interface WireDelta {
  protocol: number
  treeId: string
  from: number
  to: number
  seqno: number
  addTables: WireTable[]
  removeTables: number[]
  addBlobFiles: { id: number; size: number; checksum: string }[]
  removeBlobFiles: number[]
  leaseId: string | null
  leaseExpiresAt: string | null
}

export interface WireState extends Omit<ReplicationState, never> {
  protocol: number
}

export function checksumHex(checksum: number): string {
  return (checksum >>> 0).toString(16).padStart(8, '0')
}

/** The quoted ETag of a file with this checksum (RFC 9110). */
export function etagOf(checksum: number): string {
  return `"${checksumHex(checksum)}"`
}

export function tableToWire(t: TableMeta): WireTable {
  const out: WireTable = {
    id: t.id,
    level: t.level,
    size: t.sizeBytes,
    checksum: checksumHex(t.checksum),
    smallestKey: t.smallestKey.toString('base64'),
    largestKey: t.largestKey.toString('base64'),
    smallestSeqno: t.smallestSeqno,
    largestSeqno: t.largestSeqno,
    entries: t.entries,
    rangeTombstones: t.rangeTombstones,
  }
  if (t.createdAtMs !== undefined) out.createdAtMs = t.createdAtMs
  return out
}

export function deltaToWire(d: LeasedDelta): WireDelta {
  return {
    protocol: PROTOCOL_VERSION,
    treeId: d.treeId,
    from: d.from,
    to: d.to,
    seqno: d.seqno,
    addTables: d.addTables.map(tableToWire),
    removeTables: d.removeTables,
    addBlobFiles: d.addBlobFiles.map((b) => ({ id: b.id, size: b.sizeBytes, checksum: checksumHex(b.checksum) })),
    removeBlobFiles: d.removeBlobFiles,
    leaseId: d.leaseId,
    leaseExpiresAt: d.leaseExpiresAtMs === null ? null : new Date(d.leaseExpiresAtMs).toISOString(),
  }
}

export function stateToWire(s: ReplicationState): WireState {
  return { protocol: PROTOCOL_VERSION, ...s }
}

/** Something a leader sent that this follower cannot accept; the follower retries later. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ProtocolError'
  }
}

function fail(message: string): never {
  throw new ProtocolError(`leader sent an invalid answer: ${message}`)
}

function obj(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what} is not an object`)
  return value as Record<string, unknown>
}

function count(o: Record<string, unknown>, name: string, min = 0): number {
  const v = o[name]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(`${name} is not an integer >= ${min}`)
  return v
}

function str(o: Record<string, unknown>, name: string, maxChars: number): string {
  const v = o[name]
  if (typeof v !== 'string' || v.length > maxChars) fail(`${name} is not a string of at most ${maxChars} characters`)
  return v
}

function arr(o: Record<string, unknown>, name: string): unknown[] {
  const v = o[name]
  if (!Array.isArray(v) || v.length > DELTA_FILES_MAX) fail(`${name} is not an array of at most ${DELTA_FILES_MAX}`)
  return v
}

function checksum(o: Record<string, unknown>): number {
  const hex = str(o, 'checksum', 8)
  if (!/^[0-9a-f]{8}$/.test(hex)) fail('checksum is not 8 lowercase hex digits')
  return Number.parseInt(hex, 16)
}

function key(o: Record<string, unknown>, name: string): Buffer {
  const text = str(o, name, KEY_BASE64_CHARS_MAX)
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) fail(`${name} is not base64`)
  return Buffer.from(text, 'base64')
}

export function parseWireTable(value: unknown): TableMeta {
  const o = obj(value, 'a table')
  const level = count(o, 'level')
  if (level >= LEVELS) fail(`table level ${level} is out of range`)
  const t: TableMeta = {
    id: count(o, 'id', 1),
    level,
    sizeBytes: count(o, 'size'),
    checksum: checksum(o),
    smallestKey: key(o, 'smallestKey'),
    largestKey: key(o, 'largestKey'),
    smallestSeqno: count(o, 'smallestSeqno'),
    largestSeqno: count(o, 'largestSeqno'),
    entries: count(o, 'entries'),
    rangeTombstones: count(o, 'rangeTombstones'),
  }
  if (o['createdAtMs'] !== undefined) t.createdAtMs = count(o, 'createdAtMs')
  if (t.smallestSeqno > t.largestSeqno || Buffer.compare(t.smallestKey, t.largestKey) > 0) fail(`table ${t.id} has inverted ranges`)
  return t
}

function ids(o: Record<string, unknown>, name: string): number[] {
  return arr(o, name).map((v) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail(`${name} holds a bad file id`)
    return v
  })
}

export interface ParsedDelta extends ReplicationDelta {
  leaseId: string | null
}

export function parseWireDelta(value: unknown): ParsedDelta {
  const o = obj(value, 'the delta')
  if (o['protocol'] !== PROTOCOL_VERSION) fail(`protocol ${String(o['protocol'])} is not ${PROTOCOL_VERSION}`)
  const leaseId = o['leaseId'] === null ? null : str(o, 'leaseId', 128)
  const delta: ParsedDelta = {
    treeId: str(o, 'treeId', 256),
    from: count(o, 'from'),
    to: count(o, 'to'),
    seqno: count(o, 'seqno'),
    addTables: arr(o, 'addTables').map(parseWireTable),
    removeTables: ids(o, 'removeTables'),
    addBlobFiles: arr(o, 'addBlobFiles').map((b) => {
      const x = obj(b, 'a blob file')
      return { id: count(x, 'id', 1), sizeBytes: count(x, 'size'), checksum: checksum(x) }
    }),
    removeBlobFiles: ids(o, 'removeBlobFiles'),
    leaseId,
  }
  if (delta.to < delta.from) fail('to < from')
  if (new Set(delta.addTables.map((t) => t.id)).size !== delta.addTables.length) fail('a table is added twice')
  return delta
}

export interface ParsedState {
  treeId: string
  versionId: number
  seqno: number
  tablesSeqno: number
  epoch: string
  epochStartSeqno: number
}

export function parseWireState(value: unknown): ParsedState {
  const o = obj(value, 'the state')
  if (o['protocol'] !== PROTOCOL_VERSION) fail(`protocol ${String(o['protocol'])} is not ${PROTOCOL_VERSION}`)
  return {
    treeId: str(o, 'treeId', 256),
    versionId: count(o, 'versionId'),
    seqno: count(o, 'seqno'),
    tablesSeqno: count(o, 'tablesSeqno'),
    epoch: str(o, 'epoch', 128),
    epochStartSeqno: count(o, 'epochStartSeqno'),
  }
}
