/**
 * `strata restore --file FILE --data DIR --tree NAME`: unpacks and verifies a backup (`.tar` or
 * `.tar.zst`, told apart by its bytes) into DIR/NAME offline, with exactly the checks of
 * `POST /v1/trees/{tree}/restore` (src/backup/restore.ts): the restored tree opens, at
 * BACKUP.json's seqno, with a new treeId; on any failure nothing is left in DIR.
 *
 * It opens DIR as a catalog, which takes the data directory's lock: a server running on DIR
 * makes it fail (exit 1) instead of racing it. Exit codes: 0 restored, 1 failed (invalid
 * archive, tree exists, DIR in use, I/O), 2 usage error.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { parseArgs } from 'node:util'

import { isInvalidArchive, restoreArchive, RESTORE_BYTES_MAX_DEFAULT, type RestoreResult } from '../backup/index.js'
import { Catalog, isStrataError } from '../engine/index.js'
import { flagHelp, formatBytes } from './backup-command.js'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './help.js'
import { UsageError } from './serve-config.js'

export const RESTORE_FLAGS = [
  { name: 'file', value: 'FILE', help: 'the backup archive (.tar or .tar.zst)' },
  { name: 'data', value: 'DIR', help: 'the data directory (created if missing); the tree lands in DIR/NAME' },
  { name: 'tree', value: 'NAME', help: 'the name of the restored tree (must not exist)' },
  { name: 'max-bytes', value: 'BYTES', help: `refuse archives over this many bytes (default ${RESTORE_BYTES_MAX_DEFAULT})` },
  { name: 'help', value: '', help: 'print this help and exit' },
] as const

const PARSE_OPTIONS = {
  file: { type: 'string' },
  data: { type: 'string' },
  tree: { type: 'string' },
  'max-bytes': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/** Read size of the archive file. */
const READ_CHUNK_BYTES = 1024 * 1024

export interface RestoreConfig {
  file: string
  dataDir: string
  tree: string
  maxBytes: number
}

export function restoreHelp(): string {
  return flagHelp('usage: strata restore --file FILE --data DIR --tree NAME [--max-bytes BYTES]', [
    'Unpacks and verifies a backup made by `strata backup` (or GET /checkpoint) into DIR/NAME,',
    'offline (no server may run on DIR). The restored tree gets a new treeId.',
  ], RESTORE_FLAGS)
}

export function parseRestoreArgs(argv: readonly string[]): RestoreConfig | 'help' {
  let values: Partial<Record<keyof typeof PARSE_OPTIONS, string | boolean>>
  try {
    values = parseArgs({ args: [...argv], options: PARSE_OPTIONS, strict: true, allowPositionals: false }).values
  } catch (error) {
    throw new UsageError(`restore: ${(error as Error).message.split('\n')[0]}`)
  }
  if (values.help === true) return 'help'
  const required = (name: 'file' | 'data' | 'tree'): string => {
    const value = values[name]
    if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`restore: --${name} is required`)
    return value
  }
  const tree = required('tree')
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(tree)) throw new UsageError('restore: --tree is not a valid tree name')
  const text = values['max-bytes'] as string | undefined
  const maxBytes = text === undefined ? RESTORE_BYTES_MAX_DEFAULT : Number(text)
  if (text !== undefined && (!/^\d+$/.test(text) || !Number.isSafeInteger(maxBytes) || maxBytes < 1)) {
    throw new UsageError(`restore: --max-bytes must be a positive integer, got '${text}'`)
  }
  return { file: required('file'), dataDir: required('data'), tree, maxBytes }
}

/** Runs `strata restore`; resolves with the exit code. */
export async function runRestore(argv: readonly string[]): Promise<number> {
  let config: RestoreConfig | 'help'
  try {
    config = parseRestoreArgs(argv)
    if (config !== 'help') {
      const s = await stat(config.file).catch(() => undefined)
      if (s === undefined || !s.isFile()) throw new UsageError(`restore: --file ${config.file} is not a readable file`)
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`strata: ${error.message}\nRun 'strata restore --help' for the flags.\n`)
    return EXIT_USAGE
  }
  if (config === 'help') {
    process.stdout.write(restoreHelp() + '\n')
    return EXIT_OK
  }
  try {
    const result = await restore(config)
    const bytes = result.manifest.files.reduce((n, f) => n + f.size, 0)
    process.stderr.write(`strata: restored tree '${config.tree}' at seqno ${result.manifest.seqno}: ${result.manifest.files.length} files, ${formatBytes(bytes)}, new treeId ${result.treeId}\n`)
    return EXIT_OK
  } catch (error) {
    process.stderr.write(`strata: restore failed: ${describe(error)}\n`)
    return EXIT_FAILURE
  }
}

/** Restores under the data directory's catalog lock (see the file comment). */
export async function restore(config: RestoreConfig): Promise<RestoreResult> {
  const catalog = await Catalog.open(config.dataDir)
  try {
    const source = createReadStream(config.file, { highWaterMark: READ_CHUNK_BYTES })
    const { placed } = await catalog.adopt(config.tree, () => restoreArchive(source, { dataDir: config.dataDir, treeName: config.tree, maxBytes: config.maxBytes }))
    return placed
  } finally {
    await catalog.close()
  }
}

function describe(error: unknown): string {
  if (isInvalidArchive(error)) return `invalid archive: ${error.message}`
  if (isStrataError(error, 'EXISTS')) return 'the tree exists in the data directory'
  if (isStrataError(error, 'LOCKED')) return 'the data directory is in use by another process (stop the server first)'
  return error instanceof Error ? error.message : String(error)
}
