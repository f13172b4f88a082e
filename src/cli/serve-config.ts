/**
 * `strata serve` flags and the files they name, turned into a checked ServeConfig. Pure apart
 * from reading the named files: every mistake is a UsageError whose message says which flag is
 * wrong and why (main.ts prints it and exits 2), before any tree is opened or port bound.
 *
 * Invariants:
 * - A token is never printed, not even in part, in any message.
 * - Every file read is bounded in size before it is parsed (FILE_BYTES_MAX).
 */
import { readFileSync, statSync } from 'node:fs'
import { parseArgs } from 'node:util'

/** An operator mistake (bad flag, bad file): main.ts prints the message and exits with 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export type Role = 'read' | 'write' | 'admin'
export interface TokenEntry {
  token: string
  role: Role
}
export type SyncPolicyName = 'always' | 'none'

export interface ServeConfig {
  dataDir: string
  host: string
  port: number
  tokens: TokenEntry[] | undefined
  sync: SyncPolicyName
  bodyLimitBytes: number
  maxRestoreBytes: number
  /** --max-transfer-mbps: bound on replication transfers (undefined: none). */
  maxTransferMbps: number | undefined
  tls: { cert: Buffer; key: Buffer } | undefined
  logLevel: string
}

export const DEFAULT_DATA_DIR = './strata-data'
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 7070
/** API.md: the JSON/value body limit defaults to 64 MiB. */
export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024 * 1024
/** A body is buffered whole before it is parsed; past 1 GiB one request could exhaust memory. */
export const BODY_LIMIT_BYTES_MAX = 1024 * 1024 * 1024
/** API.md: restore uploads are bounded separately, default 1 TiB (they are streamed, never buffered). */
export const DEFAULT_MAX_RESTORE_BYTES = 1024 ** 4
/** Tokens, key and certificate files are small; a bigger one is the wrong file. */
export const FILE_BYTES_MAX = 1024 * 1024
/** Shortest token accepted: 16 characters keep a guessed token out of reach of brute force. */
export const TOKEN_CHARS_MIN = 16
/** Longest token accepted: it travels in a header, which Node bounds at 16 KiB in all. */
export const TOKEN_CHARS_MAX = 4096
/** Tokens are header-safe visible ASCII without spaces (RFC 6750 b64token is a subset). */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/
/** An AES-256 key: 32 bytes. */
export const ENCRYPTION_KEY_BYTES = 32
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** Every flag of `serve`, in help order: the help text is generated from this table. */
export const SERVE_FLAGS = [
  { name: 'data', value: 'DIR', help: `directory holding one sub-directory per tree (default ${DEFAULT_DATA_DIR})` },
  { name: 'host', value: 'HOST', help: `address to listen on (default ${DEFAULT_HOST}); anything but loopback needs --tokens` },
  { name: 'port', value: 'PORT', help: `TCP port, 0 for any free port (default ${DEFAULT_PORT})` },
  { name: 'tokens', value: 'FILE', help: 'JSON [{"token": "...", "role": "read|write|admin"}]; enables bearer auth' },
  { name: 'encryption-key-file', value: 'FILE', help: '32 raw bytes or 64 hex characters (encryption at rest: not implemented yet)' },
  { name: 'sync', value: 'always|none', help: "default sync policy of new trees (default always: a write is fsynced before it is acknowledged)" },
  { name: 'body-limit', value: 'BYTES', help: `largest request body (default ${DEFAULT_BODY_LIMIT_BYTES}, max ${BODY_LIMIT_BYTES_MAX})` },
  { name: 'max-restore-bytes', value: 'BYTES', help: `largest restore upload (and unpacked archive) (default ${DEFAULT_MAX_RESTORE_BYTES})` },
  { name: 'max-transfer-mbps', value: 'N', help: 'bound replication file downloads by followers to N megabits per second (default no bound)' },
  { name: 'tls-cert', value: 'FILE', help: 'PEM certificate chain: serve HTTPS (needs --tls-key)' },
  { name: 'tls-key', value: 'FILE', help: 'PEM private key of --tls-cert' },
  { name: 'log-level', value: 'LEVEL', help: `${LOG_LEVELS.join('|')} (default info); logs are JSON lines on stdout` },
  { name: 'help', value: '', help: 'print this help and exit' },
] as const

const PARSE_OPTIONS = {
  data: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  tokens: { type: 'string' },
  'encryption-key-file': { type: 'string' },
  sync: { type: 'string' },
  'body-limit': { type: 'string' },
  'max-restore-bytes': { type: 'string' },
  'max-transfer-mbps': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/** Parses `serve`'s arguments; 'help' when --help was given. Throws UsageError. */
export function parseServeArgs(argv: readonly string[]): ServeConfig | 'help' {
  let values: Partial<Record<keyof typeof PARSE_OPTIONS, string | boolean>>
  try {
    values = parseArgs({ args: [...argv], options: PARSE_OPTIONS, strict: true, allowPositionals: false }).values
  } catch (error) {
    throw new UsageError(`serve: ${(error as Error).message.split('\n')[0]}`)
  }
  if (values.help === true) return 'help'
  const text = (name: keyof typeof PARSE_OPTIONS): string | undefined => values[name] as string | undefined
  const tokensFile = text('tokens')
  const config: ServeConfig = {
    dataDir: nonEmpty('--data', text('data') ?? DEFAULT_DATA_DIR),
    host: nonEmpty('--host', text('host') ?? DEFAULT_HOST),
    port: integerFlag('--port', text('port'), DEFAULT_PORT, 0, 65535),
    tokens: tokensFile === undefined ? undefined : readTokensFile(tokensFile),
    sync: syncFlag(text('sync')),
    bodyLimitBytes: integerFlag('--body-limit', text('body-limit'), DEFAULT_BODY_LIMIT_BYTES, 1, BODY_LIMIT_BYTES_MAX),
    maxRestoreBytes: integerFlag('--max-restore-bytes', text('max-restore-bytes'), DEFAULT_MAX_RESTORE_BYTES, 1, Number.MAX_SAFE_INTEGER),
    maxTransferMbps: transferMbpsFlag(text('max-transfer-mbps')),
    tls: tlsFlags(text('tls-cert'), text('tls-key')),
    logLevel: logLevelFlag(text('log-level')),
  }
  const keyFile = text('encryption-key-file')
  if (keyFile !== undefined) {
    readEncryptionKey(keyFile)
    throw new UsageError('serve: --encryption-key-file: encryption at rest is not implemented yet (the key file is valid)')
  }
  return config
}

function nonEmpty(flag: string, value: string): string {
  if (value.trim() === '') throw new UsageError(`serve: ${flag} needs a value`)
  return value
}

function integerFlag(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`serve: ${flag} must be an integer from ${min} to ${max}, got '${value}'`)
  }
  return n
}

/** --max-transfer-mbps: megabits per second, 0.01 to 1,000,000 (follow-command.ts shares the bounds). */
function transferMbpsFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isFinite(n) || n < 0.01 || n > 1_000_000) throw new UsageError(`serve: --max-transfer-mbps must be a number from 0.01 to 1000000, got '${value}'`)
  return n
}

function syncFlag(value: string | undefined): SyncPolicyName {
  if (value === undefined) return 'always'
  if (value !== 'always' && value !== 'none') throw new UsageError(`serve: --sync must be 'always' or 'none', got '${value}'`)
  return value
}

function logLevelFlag(value: string | undefined): string {
  if (value === undefined) return 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new UsageError(`serve: --log-level must be one of ${LOG_LEVELS.join(', ')}`)
  return value
}

function tlsFlags(certFile: string | undefined, keyFile: string | undefined): ServeConfig['tls'] {
  if (certFile === undefined && keyFile === undefined) return undefined
  if (certFile === undefined || keyFile === undefined) throw new UsageError('serve: --tls-cert and --tls-key go together: give both or neither')
  const cert = readBoundedFile('--tls-cert', certFile)
  const key = readBoundedFile('--tls-key', keyFile)
  if (!cert.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) throw new UsageError('serve: --tls-cert is not a PEM certificate')
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1'))) throw new UsageError('serve: --tls-key is not a PEM private key')
  return { cert, key }
}

/** Reads a file the operator named, refusing directories, missing files and oversize files. */
export function readBoundedFile(flag: string, path: string): Buffer {
  let sizeBytes: number
  try {
    const stat = statSync(path)
    if (!stat.isFile()) throw new UsageError(`serve: ${flag}: ${path} is not a regular file`)
    sizeBytes = stat.size
  } catch (error) {
    if (error instanceof UsageError) throw error
    throw new UsageError(`serve: ${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  if (sizeBytes > FILE_BYTES_MAX) throw new UsageError(`serve: ${flag}: ${path} is larger than ${FILE_BYTES_MAX} bytes`)
  return readFileSync(path)
}

export function readTokensFile(path: string): TokenEntry[] {
  return parseTokens(readBoundedFile('--tokens', path).toString('utf8'))
}

/** Validates the tokens file's JSON: a non-empty array of distinct {token, role}. */
export function parseTokens(text: string): TokenEntry[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new UsageError('serve: --tokens: the file is not valid JSON')
  }
  if (!Array.isArray(parsed)) throw new UsageError('serve: --tokens: the file must hold a JSON array of {"token", "role"}')
  if (parsed.length === 0) throw new UsageError('serve: --tokens: the array is empty (omit --tokens to serve loopback without auth)')
  const seen = new Set<string>()
  return parsed.map((entry: unknown, index) => {
    const at = `serve: --tokens: entry ${index}`
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new UsageError(`${at} is not an object`)
    const { token, role, ...rest } = entry as Record<string, unknown>
    const unknown = Object.keys(rest)
    if (unknown.length > 0) throw new UsageError(`${at} has unknown field(s) ${unknown.join(', ')} (allowed: token, role)`)
    if (typeof token !== 'string') throw new UsageError(`${at}: "token" must be a string`)
    if (token.length < TOKEN_CHARS_MIN || token.length > TOKEN_CHARS_MAX) {
      throw new UsageError(`${at}: "token" must be ${TOKEN_CHARS_MIN} to ${TOKEN_CHARS_MAX} characters`)
    }
    if (!TOKEN_PATTERN.test(token)) throw new UsageError(`${at}: "token" must be visible ASCII without spaces`)
    if (role !== 'read' && role !== 'write' && role !== 'admin') throw new UsageError(`${at}: "role" must be "read", "write" or "admin"`)
    if (seen.has(token)) throw new UsageError(`${at}: the same token appears twice`)
    seen.add(token)
    return { token, role }
  })
}

/** Reads and checks an encryption key file: 32 raw bytes, or 64 hex characters (+ newline). */
export function readEncryptionKey(path: string): Buffer {
  return parseEncryptionKey(readBoundedFile('--encryption-key-file', path))
}

export function parseEncryptionKey(content: Buffer): Buffer {
  if (content.length === ENCRYPTION_KEY_BYTES) return Buffer.from(content)
  const text = content.toString('latin1').trim()
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex')
  throw new UsageError(`serve: --encryption-key-file must hold ${ENCRYPTION_KEY_BYTES} raw bytes or 64 hex characters, found ${content.length} bytes`)
}
