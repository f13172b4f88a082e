/**
 * Names of the files inside one tree directory (leveldb db/filename.cc):
 *
 *   CURRENT            names the live manifest: "MANIFEST-000005\n"
 *   LOCK               held by the process that has the tree open
 *   MANIFEST-000001    VersionEdit log (see docs/format/manifest.md)
 *   000012.log         write-ahead log
 *   000013.sst         table
 *   000014.blob        blob file (reserved for key/value separation)
 *   OPTIONS            reserved
 *   *.tmp              temporary file of an atomic replace; never live after recovery
 *
 * Invariants:
 * - Every numbered file draws its number from the tree's one counter (VersionSet
 *   newFileNumber), so no two files of a tree share a number, whatever their type.
 * - Numbers are written zero-padded to FILE_NUMBER_DIGITS digits, wider when larger, and
 *   parseFileName accepts only that canonical spelling, so name -> number -> name round-trips.
 * - File numbers start at 1; 0 is never a file.
 */
import { assert } from './base/assert.js'

export const CURRENT_FILE_NAME = 'CURRENT'
export const LOCK_FILE_NAME = 'LOCK'
export const OPTIONS_FILE_NAME = 'OPTIONS'
export const TEMP_FILE_SUFFIX = '.tmp'
const MANIFEST_PREFIX = 'MANIFEST-'

/** Minimum digits of a file number in a name: six digits sort well up to a million files. */
export const FILE_NUMBER_DIGITS = 6

export type FileType = 'table' | 'wal' | 'manifest' | 'blob' | 'current' | 'lock' | 'temp' | 'options'

export interface ParsedFileName {
  type: FileType
  /** Present for tables, WALs, manifests and blob files. */
  number?: number
}

function paddedNumber(fileNumber: number): string {
  assert(Number.isSafeInteger(fileNumber), 'file number must be a safe integer')
  assert(fileNumber >= 1, 'file numbers start at 1')
  return String(fileNumber).padStart(FILE_NUMBER_DIGITS, '0')
}

export function tableFileName(fileNumber: number): string {
  return `${paddedNumber(fileNumber)}.sst`
}

export function walFileName(fileNumber: number): string {
  return `${paddedNumber(fileNumber)}.log`
}

export function blobFileName(fileNumber: number): string {
  return `${paddedNumber(fileNumber)}.blob`
}

export function manifestFileName(fileNumber: number): string {
  return `${MANIFEST_PREFIX}${paddedNumber(fileNumber)}`
}

/** `dir` joined with a file name, POSIX style (the Vfs takes POSIX paths). */
export function pathInDir(dir: string, fileName: string): string {
  assert(fileName.length > 0, 'empty file name')
  assert(!fileName.includes('/'), 'a file name has no slash')
  return dir.endsWith('/') ? `${dir}${fileName}` : `${dir}/${fileName}`
}

/** The number in `digits` if it is spelled canonically (>= 6 digits, no extra leading zero). */
function parseNumber(digits: string): number | undefined {
  if (!/^[0-9]+$/.test(digits)) return undefined
  if (digits.length < FILE_NUMBER_DIGITS) return undefined
  if (digits.length > FILE_NUMBER_DIGITS && digits.startsWith('0')) return undefined
  const value = Number(digits)
  if (!Number.isSafeInteger(value) || value < 1) return undefined
  return value
}

const NUMBERED_SUFFIXES: readonly (readonly [string, FileType])[] = [
  ['.sst', 'table'],
  ['.log', 'wal'],
  ['.blob', 'blob'],
]

/** Classifies a directory entry; undefined for names Strata never writes. */
export function parseFileName(name: string): ParsedFileName | undefined {
  if (name === CURRENT_FILE_NAME) return { type: 'current' }
  if (name === LOCK_FILE_NAME) return { type: 'lock' }
  if (name === OPTIONS_FILE_NAME) return { type: 'options' }
  if (name.endsWith(TEMP_FILE_SUFFIX) && name.length > TEMP_FILE_SUFFIX.length) return { type: 'temp' }
  if (name.startsWith(MANIFEST_PREFIX)) {
    const number = parseNumber(name.slice(MANIFEST_PREFIX.length))
    return number === undefined ? undefined : { type: 'manifest', number }
  }
  for (const [suffix, type] of NUMBERED_SUFFIXES) {
    if (!name.endsWith(suffix)) continue
    const number = parseNumber(name.slice(0, -suffix.length))
    return number === undefined ? undefined : { type, number }
  }
  return undefined
}
