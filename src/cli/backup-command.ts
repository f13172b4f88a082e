/**
 * `strata backup --url URL --token TOKEN --tree NAME --out FILE`: streams the tree's
 * `GET /v1/trees/{tree}/checkpoint` to FILE (a `.tar.zst` name asks for compression=zstd),
 * through a temporary file next to FILE that is fsynced, then verified from disk like a restore
 * would (BACKUP.json, every entry's size and SHA-256, the end marker, X-Seqno = BACKUP.json's
 * seqno), and only then renamed to FILE. Any failure removes the temporary file: FILE is either
 * a complete, verified backup or untouched.
 *
 * Output: progress on stderr when it is a TTY (bytes, rate), nothing otherwise; errors on stderr.
 * Exit codes (help.ts): 0 done, 1 the backup failed (server answer, network, verification),
 * 2 usage error. The token may also come from the STRATA_TOKEN environment variable (a flag is
 * visible to other users in `ps`).
 */
import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { parseArgs } from 'node:util'

import { request } from 'undici'

import { isInvalidArchive, RESTORE_BYTES_MAX_DEFAULT, verifyArchive } from '../backup/index.js'
import { nodeVfs } from '../engine/index.js'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './help.js'
import { UsageError } from './serve-config.js'

export const BACKUP_FLAGS = [
  { name: 'url', value: 'URL', help: 'the server, e.g. http://127.0.0.1:7070' },
  { name: 'token', value: 'TOKEN', help: 'an admin bearer token (default: $STRATA_TOKEN)' },
  { name: 'tree', value: 'NAME', help: 'the tree to back up' },
  { name: 'out', value: 'FILE', help: 'the archive to write; a name ending in .tar.zst is zstd-compressed' },
  { name: 'force', value: '', help: 'replace FILE if it exists' },
  { name: 'help', value: '', help: 'print this help and exit' },
] as const

const PARSE_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  tree: { type: 'string' },
  out: { type: 'string' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

/** Error answers are small JSON; a bigger body is cut (it is only shown to the operator). */
const ERROR_BODY_BYTES_MAX = 64 * 1024
/** The server hashes every file before its first byte: allow it time on a big tree. */
const HEADERS_TIMEOUT_MS = 30 * 60 * 1000
/** No byte for this long mid-stream: the server or the network is gone. */
const BODY_TIMEOUT_MS = 5 * 60 * 1000
const PROGRESS_INTERVAL_MS = 250

export interface BackupConfig {
  url: URL
  token: string
  tree: string
  out: string
  force: boolean
  compression: 'none' | 'zstd'
}

export function backupHelp(): string {
  return flagHelp('usage: strata backup --url URL --token TOKEN --tree NAME --out FILE [--force]', [
    "Streams a tree's checkpoint from a running server into FILE (tar, or tar.zst by its name),",
    'verifies it against its BACKUP.json, and only then gives it its name. Needs the admin role.',
  ], BACKUP_FLAGS)
}

/** Help text of a command from its flag table (shared with restore-command.ts). */
export function flagHelp(usage: string, about: string[], flags: readonly { name: string; value: string; help: string }[]): string {
  const labels = flags.map((f) => (f.value === '' ? `--${f.name}` : `--${f.name} ${f.value}`))
  const width = Math.max(...labels.map((l) => l.length)) + 2
  return [usage, '', ...about, '', 'flags:', ...flags.map((f, i) => `  ${labels[i]!.padEnd(width)}${f.help}`), '',
    'exit codes: 0 done, 1 failed (nothing is left behind), 2 usage error'].join('\n')
}

export function parseBackupArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BackupConfig | 'help' {
  let values: Partial<Record<keyof typeof PARSE_OPTIONS, string | boolean>>
  try {
    values = parseArgs({ args: [...argv], options: PARSE_OPTIONS, strict: true, allowPositionals: false }).values
  } catch (error) {
    throw new UsageError(`backup: ${(error as Error).message.split('\n')[0]}`)
  }
  if (values.help === true) return 'help'
  const required = (name: 'url' | 'tree' | 'out'): string => {
    const value = values[name]
    if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`backup: --${name} is required`)
    return value
  }
  let url: URL
  try {
    url = new URL(required('url'))
  } catch (error) {
    if (error instanceof UsageError) throw error
    throw new UsageError('backup: --url is not a valid URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('backup: --url must be http:// or https://')
  const token = (values.token as string | undefined) ?? env['STRATA_TOKEN']
  if (token === undefined || token === '') throw new UsageError('backup: --token (or STRATA_TOKEN) is required')
  const tree = required('tree')
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(tree)) throw new UsageError('backup: --tree is not a valid tree name')
  const out = required('out')
  return { url, token, tree, out, force: values.force === true, compression: out.endsWith('.tar.zst') || out.endsWith('.tzst') ? 'zstd' : 'none' }
}

/** Runs `strata backup`; resolves with the exit code. */
export async function runBackup(argv: readonly string[]): Promise<number> {
  let config: BackupConfig | 'help'
  try {
    config = parseBackupArgs(argv)
    if (config !== 'help' && !config.force && (await exists(config.out))) throw new UsageError(`backup: ${config.out} exists (use --force to replace it)`)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`strata: ${error.message}\nRun 'strata backup --help' for the flags.\n`)
    return EXIT_USAGE
  }
  if (config === 'help') {
    process.stdout.write(backupHelp() + '\n')
    return EXIT_OK
  }
  try {
    const summary = await backup(config)
    if (process.stderr.isTTY) process.stderr.write(`\rstrata: backup of '${config.tree}' at seqno ${summary.seqno}: ${summary.files} files, ${formatBytes(summary.bytes)} written to ${config.out}\n`)
    return EXIT_OK
  } catch (error) {
    if (process.stderr.isTTY) process.stderr.write('\n')
    process.stderr.write(`strata: backup failed: ${error instanceof Error ? error.message : String(error)}\n`)
    return EXIT_FAILURE
  }
}

interface BackupSummary {
  seqno: number
  files: number
  bytes: number
}

/** Download -> fsync -> verify -> rename (see the file comment). */
export async function backup(config: BackupConfig): Promise<BackupSummary> {
  const target = new URL(`v1/trees/${encodeURIComponent(config.tree)}/checkpoint`, config.url.href.endsWith('/') ? config.url : `${config.url.href}/`)
  if (config.compression === 'zstd') target.searchParams.set('compression', 'zstd')
  const temp = join(dirname(config.out), `.${basename(config.out)}.partial-${randomBytes(6).toString('hex')}`)
  const abort = new AbortController()
  const onSignal = () => abort.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const response = await request(target, {
      method: 'GET',
      headers: { authorization: `Bearer ${config.token}` },
      signal: abort.signal,
      headersTimeout: HEADERS_TIMEOUT_MS,
      bodyTimeout: BODY_TIMEOUT_MS,
    })
    if (response.statusCode !== 200) throw new Error(await errorText(response.statusCode, response.body))
    const seqno = Number(response.headers['x-seqno'])
    const bytes = await download(response.body, temp)
    const verified = await verifyArchive(createReadStream(temp, { highWaterMark: 1024 * 1024 }), { maxBytes: RESTORE_BYTES_MAX_DEFAULT }).catch((error: unknown) => {
      if (isInvalidArchive(error)) throw new Error(`the downloaded archive does not verify: ${error.message}`)
      throw error
    })
    if (verified.compressed !== (config.compression === 'zstd')) throw new Error('the server sent another compression than asked')
    if (verified.manifest.seqno !== seqno) throw new Error(`X-Seqno (${seqno}) and BACKUP.json (${verified.manifest.seqno}) disagree`)
    await rename(temp, config.out)
    await nodeVfs.syncDir(dirname(config.out))
    return { seqno, files: verified.manifest.files.length, bytes }
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined)
    if (abort.signal.aborted) throw new Error('interrupted')
    throw error
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

/** Writes the body to `path` (exclusive create), with progress on a TTY; fsyncs; returns its bytes. */
async function download(body: AsyncIterable<Buffer>, path: string): Promise<number> {
  const handle = await open(path, 'wx', 0o600)
  const started = Date.now()
  let bytes = 0
  let shown = 0
  try {
    for await (const chunk of body) {
      await handle.write(chunk, 0, chunk.length)
      bytes += chunk.length
      if (process.stderr.isTTY && Date.now() - shown >= PROGRESS_INTERVAL_MS) {
        shown = Date.now()
        const seconds = Math.max((shown - started) / 1000, 0.001)
        process.stderr.write(`\rstrata: backup: ${formatBytes(bytes)} (${formatBytes(bytes / seconds)}/s)   `)
      }
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
  return bytes
}

async function errorText(status: number, body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of body) {
    if (length < ERROR_BODY_BYTES_MAX) chunks.push(chunk)
    length += chunk.length
  }
  const text = Buffer.concat(chunks).subarray(0, ERROR_BODY_BYTES_MAX).toString('utf8')
  try {
    const parsed = JSON.parse(text) as { code?: unknown; message?: unknown }
    if (typeof parsed.code === 'string') return `the server answered ${status} ${parsed.code}: ${String(parsed.message)}`
  } catch {
    // not JSON: show the status only
  }
  return `the server answered ${status}`
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false)
}

