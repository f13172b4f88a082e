/**
 * BACKUP.json: the first entry of every backup archive (API.md "Checkpoints, backups, restore";
 * spec in docs/backup.md). UTF-8 JSON:
 *
 *     {
 *       "formatVersion": 1,                        integer; this build reads and writes 1
 *       "tree": "orders",                          the tree's name when it was backed up
 *       "treeId": "6f1c...",                       the tree's history id (a restore makes a new one)
 *       "seqno": 1234,                             the archive holds exactly the writes up to it
 *       "versionId": 56,                           the Version captured
 *       "createdAt": "2025-01-02T03:04:05.678Z",   ISO 8601
 *       "files": [ { "path": "000012.sst", "size": 4096, "sha256": "<64 lowercase hex>" }, ... ]
 *     }
 *
 * `files` lists every other entry of the archive, each a regular file directly in the tree
 * directory (a path is a bare file name), so `sha256sum -c` can verify an unpacked backup.
 *
 * parseBackupManifest trusts nothing: the bytes are bounded before parsing, every field has
 * exactly the type and range above, unknown fields are refused (a newer format bumps
 * formatVersion), paths are plain names (no `/`, no `..`, no leading dot), unique, and the sizes
 * fit the caller's bounds. Every failure is an InvalidArchiveError saying which rule broke.
 */
import { TREE_NAME_PATTERN } from '../engine/index.js'
import { invalidArchive, quoteName } from './errors.js'

/** DO NOT CHANGE: in archives. The BACKUP.json format this build writes and reads. */
export const BACKUP_FORMAT_VERSION = 1
/** DO NOT CHANGE: in archives. The name of the first entry. */
export const BACKUP_MANIFEST_NAME = 'BACKUP.json'
/** ~150 bytes per file: 16 MiB holds ~100,000 files, far more than a tree has. */
export const BACKUP_MANIFEST_BYTES_MAX = 16 * 1024 * 1024
/** Files per archive: a tree of 1 TiB in 64 MiB tables has ~16,000. */
export const BACKUP_FILES_MAX = 100_000
/** One file's size: tables are MiBs, a manifest at most 1 GiB; 64 GiB leaves room and bounds a lie. */
export const BACKUP_FILE_BYTES_MAX = 64 * 1024 * 1024 * 1024
/** A file path: a plain name, as the engine names its files (no dot first, no slash). */
export const BACKUP_PATH_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/
/** treeId: the engine writes a UUID; anything printable up to 128 characters is accepted. */
const TREE_ID_PATTERN = /^[\x21-\x7e]{1,128}$/
const SHA256_PATTERN = /^[0-9a-f]{64}$/
/** ISO 8601 date-time, UTC or with an offset (what Date.prototype.toISOString writes, and more). */
const ISO_8601_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/

export interface BackupFile {
  path: string
  size: number
  sha256: string
}

export interface BackupManifest {
  formatVersion: number
  tree: string
  treeId: string
  seqno: number
  versionId: number
  createdAt: string
  files: BackupFile[]
}

const TOP_FIELDS = ['formatVersion', 'tree', 'treeId', 'seqno', 'versionId', 'createdAt', 'files'] as const
const FILE_FIELDS = ['path', 'size', 'sha256'] as const

/** The BACKUP.json bytes of `manifest` (validated first: we never write what we would refuse). */
export function encodeBackupManifest(manifest: BackupManifest): Buffer {
  const ordered = {
    formatVersion: manifest.formatVersion,
    tree: manifest.tree,
    treeId: manifest.treeId,
    seqno: manifest.seqno,
    versionId: manifest.versionId,
    createdAt: manifest.createdAt,
    files: manifest.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })),
  }
  const bytes = Buffer.from(`${JSON.stringify(ordered, null, 2)}\n`, 'utf8')
  // Throws on a bug (a file name the format forbids, ...): never ship an archive we would refuse.
  parseBackupManifest(bytes, { totalBytesMax: Number.MAX_SAFE_INTEGER })
  return bytes
}

export interface ParseLimits {
  /** The sum of `files[].size` may not exceed this (the restore's byte budget). */
  totalBytesMax: number
}

/** Parses and validates BACKUP.json bytes; InvalidArchiveError on anything unexpected. */
export function parseBackupManifest(bytes: Uint8Array, limits: ParseLimits): BackupManifest {
  if (bytes.length > BACKUP_MANIFEST_BYTES_MAX) throw invalidArchive(`${BACKUP_MANIFEST_NAME} is over ${BACKUP_MANIFEST_BYTES_MAX} bytes`)
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw invalidArchive(`${BACKUP_MANIFEST_NAME} is not valid UTF-8 JSON`)
  }
  const top = objectWithFields(parsed, TOP_FIELDS, BACKUP_MANIFEST_NAME)
  const version = top['formatVersion']
  if (!Number.isSafeInteger(version)) throw invalidArchive(`${BACKUP_MANIFEST_NAME}: formatVersion is not an integer`)
  if (version !== BACKUP_FORMAT_VERSION) {
    throw invalidArchive(`${BACKUP_MANIFEST_NAME}: format version ${String(version)} is not supported (this build reads ${BACKUP_FORMAT_VERSION})`)
  }
  const tree = stringMatching(top['tree'], TREE_NAME_PATTERN, 'tree')
  const treeId = stringMatching(top['treeId'], TREE_ID_PATTERN, 'treeId')
  const seqno = unsigned(top['seqno'], 'seqno', Number.MAX_SAFE_INTEGER)
  const versionId = unsigned(top['versionId'], 'versionId', Number.MAX_SAFE_INTEGER)
  const createdAt = stringMatching(top['createdAt'], ISO_8601_PATTERN, 'createdAt')
  if (Number.isNaN(Date.parse(createdAt))) throw invalidArchive(`${BACKUP_MANIFEST_NAME}: createdAt is not a valid date`)
  const files = parseFiles(top['files'], limits)
  return { formatVersion: version as number, tree, treeId, seqno, versionId, createdAt, files }
}

function parseFiles(value: unknown, limits: ParseLimits): BackupFile[] {
  if (!Array.isArray(value)) throw invalidArchive(`${BACKUP_MANIFEST_NAME}: files is not an array`)
  if (value.length === 0) throw invalidArchive(`${BACKUP_MANIFEST_NAME}: files is empty`)
  if (value.length > BACKUP_FILES_MAX) throw invalidArchive(`${BACKUP_MANIFEST_NAME}: more than ${BACKUP_FILES_MAX} files`)
  const seen = new Set<string>()
  let total = 0
  const files = value.map((entry: unknown, i): BackupFile => {
    const where = `files[${i}]`
    const f = objectWithFields(entry, FILE_FIELDS, `${BACKUP_MANIFEST_NAME} ${where}`)
    const path = checkPath(f['path'], where)
    if (seen.has(path)) throw invalidArchive(`${BACKUP_MANIFEST_NAME}: ${quoteName(path)} is listed twice`)
    seen.add(path)
    const size = unsigned(f['size'], `${where}.size`, BACKUP_FILE_BYTES_MAX)
    total += size
    if (total > limits.totalBytesMax) throw invalidArchive(`${BACKUP_MANIFEST_NAME}: the files add up to more than the limit of ${limits.totalBytesMax} bytes`)
    const sha256 = stringMatching(f['sha256'], SHA256_PATTERN, `${where}.sha256 (64 lowercase hex digits)`)
    return { path, size, sha256 }
  })
  return files
}

/** A file path of the manifest or the archive: a plain name (see BACKUP_PATH_PATTERN). */
function checkPath(value: unknown, where: string): string {
  if (typeof value !== 'string') throw invalidArchive(`${BACKUP_MANIFEST_NAME}: ${where}.path is not a string`)
  const problem = pathProblem(value)
  if (problem !== undefined) throw invalidArchive(`${BACKUP_MANIFEST_NAME}: ${where}.path ${problem}`)
  return value
}

/**
 * Why `name` cannot be a file of a backup, or undefined when it can. Messages never repeat a
 * name holding a slash (it could be a server path).
 */
export function pathProblem(name: string): string | undefined {
  if (name.startsWith('/')) return 'is an absolute path'
  if (name.split(/[/\\]/).includes('..')) return "has a '..' segment"
  if (name.includes('/') || name.includes('\\')) return 'is not a plain file name (it names a directory)'
  if (name === BACKUP_MANIFEST_NAME) return `is ${BACKUP_MANIFEST_NAME} itself`
  if (!BACKUP_PATH_PATTERN.test(name)) return `${quoteName(name)} is not a valid file name`
  return undefined
}

function objectWithFields(value: unknown, fields: readonly string[], what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArchive(`${what} is not a JSON object`)
  const keys = Object.keys(value)
  for (const key of keys) {
    if (!fields.includes(key)) throw invalidArchive(`${what} has an unknown field ${quoteName(key)}`)
  }
  for (const field of fields) {
    if (!(field in value)) throw invalidArchive(`${what} has no ${field}`)
  }
  return value as Record<string, unknown>
}

function stringMatching(value: unknown, pattern: RegExp, name: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw invalidArchive(`${BACKUP_MANIFEST_NAME}: ${name} is missing or malformed`)
  return value
}

function unsigned(value: unknown, name: string, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArchive(`${BACKUP_MANIFEST_NAME}: ${name} is not a non-negative integer`)
  }
  if (value > max) throw invalidArchive(`${BACKUP_MANIFEST_NAME}: ${name} is over ${max}`)
  return value
}
