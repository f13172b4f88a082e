/**
 * ServerOptions: what buildServer(options) takes, its defaults, and every named limit of the
 * HTTP layer (STYLE rule 6: each limit with a one-line reason).
 *
 * Invariants: resolveServerOptions() returns options whose every number is inside its bound;
 * buildServer never reads an unresolved option.
 */
import { isIP } from 'node:net'

import type { FastifyServerOptions } from 'fastify'

import type { Registry } from 'prom-client'

import type { Vfs } from '../engine/index.js'
import type { TreeCatalog } from './plugins/catalog.js'

export type Role = 'read' | 'write' | 'admin'
/** Route roles: `none` for the public service routes (API.md "Roles per route"). */
export type RouteRole = 'none' | Role

export interface TokenEntry {
  token: string
  role: Role
}

/** API.md: the JSON/value body limit defaults to 64 MiB. */
export const BODY_LIMIT_BYTES_DEFAULT = 64 * 1024 * 1024
/** A body is buffered whole before it is parsed; past 1 GiB one request could exhaust memory. */
export const BODY_LIMIT_BYTES_MAX = 1024 * 1024 * 1024
/** API.md: a batch holds 1 to 10,000 ops (bounds the work and memory of one request). */
export const BATCH_OPS_MAX = 10_000
/** API.md: a scan page holds 1 to 10,000 items. */
export const SCAN_LIMIT_MAX = 10_000
/** API.md: the default scan page. */
export const SCAN_LIMIT_DEFAULT = 100
/** A scan page stops early (with a cursor) past this many key+value bytes: bounds one answer's memory. */
export const SCAN_PAGE_BYTES_MAX = 16 * 1024 * 1024
/** API.md: POST /snapshots pins for 60 s unless `ttl` says otherwise. */
export const SNAPSHOT_TTL_SECONDS_DEFAULT = 60
/** A pinned snapshot keeps history from compaction; a day bounds the garbage one client can hold. */
export const SNAPSHOT_TTL_SECONDS_MAX = 86_400
/** A scan cursor pins its snapshot this long after each page. */
export const CURSOR_TTL_SECONDS_DEFAULT = 60
/** Distinct pinned seqnos per tree (snapshots and cursors): bounds the history compaction keeps. */
export const SNAPSHOT_PINS_PER_TREE_MAX = 1024
/** Expired snapshots are released within this long of their expiry. */
export const SNAPSHOT_SWEEP_INTERVAL_MS = 1_000
/**
 * Request line + headers. A 65,535-byte key percent-encoded is 196,605 characters of path, and
 * a scan cursor carries up to four keys in base64url (~350 KiB): Node's 16 KiB default is too small.
 */
export const REQUEST_HEAD_BYTES_MAX = 512 * 1024
/** API.md: restore uploads are bounded separately from the body limit, default 1 TiB. */
export const RESTORE_BYTES_MAX_DEFAULT = 1024 ** 4
/** Checkpoint archives streamed at once: each pins a checkpoint's files and ~2 MiB of buffers. */
export const CHECKPOINT_STREAMS_MAX = 32

export type LoggerOption = boolean | NonNullable<Exclude<FastifyServerOptions['logger'], boolean>>

export interface ServerOptions {
  /** The data directory: one sub-directory per tree. */
  dataDir: string
  /** Bearer tokens. Absent or empty: no auth (the listener must then be loopback only). */
  tokens?: TokenEntry[]
  /** Largest request body (default 64 MiB). */
  bodyLimitBytes?: number
  /** Default sync policy of trees that do not set their own (default 'always'). */
  sync?: 'always' | 'none'
  /** Fastify/pino logger options (default false). */
  logger?: LoggerOption
  /** Default `ttl` of POST /snapshots, seconds. */
  snapshotTtlSecondsDefault?: number
  /** Largest `ttl` of POST /snapshots, seconds. */
  snapshotTtlSecondsMax?: number
  /** How long a scan cursor's snapshot stays pinned after each page, seconds. */
  cursorTtlSeconds?: number
  /** Distinct pinned seqnos per tree (default SNAPSHOT_PINS_PER_TREE_MAX). */
  snapshotPinsPerTreeMax?: number
  /** HTTPS: PEM certificate chain and key. */
  https?: { cert: string | Buffer; key: string | Buffer }
  /** Largest restore upload and unpacked archive, bytes (default 1 TiB; --max-restore-bytes). */
  maxRestoreBytes?: number
  /** Engine tuning for every tree (not persisted). Tests use small memtables. */
  treeDefaults?: {
    memtableBytes?: number
    blockBytes?: number
    tableBytes?: number
    blockCacheBytes?: number
    /** Replication history size (tests: STRATA_REPLICATION_HISTORY_EDITS). */
    replication?: { historyEdits?: number }
  }
  /** File system seam (tests: MemVfs / FaultVfs). */
  vfs?: Vfs
  /** Milliseconds since the epoch (tests: a fake clock for snapshot expiry). */
  now?: () => number
  /** Bound on replication and checkpoint transfer rate, megabits per second (--max-transfer-mbps). */
  maxTransferMbps?: number
  /** Lifetime of a delta's lease, ms (default 60 s; tests shorten it: STRATA_REPLICATION_LEASE_TTL_MS). */
  replicationLeaseTtlMs?: number
  /** Serve a follower's copies instead of a catalog of `dataDir` (`strata follow`). */
  follower?: FollowerServerOptions
}

/** What a follower (src/replication/follower.ts) gives the HTTP layer. */
export interface FollowerServerOptions {
  catalog: TreeCatalog
  leaderUrl: string
  notReady: () => { tree: string; code: string }[]
  replicationStats: (tree: string) => object | undefined
  registerMetrics: (registry: Registry) => void
}

export interface ResolvedServerOptions {
  dataDir: string
  tokens: TokenEntry[]
  bodyLimitBytes: number
  sync: 'always' | 'none'
  logger: LoggerOption
  snapshotTtlSecondsDefault: number
  snapshotTtlSecondsMax: number
  cursorTtlSeconds: number
  snapshotPinsPerTreeMax: number
  maxRestoreBytes: number
  https: { cert: string | Buffer; key: string | Buffer } | undefined
  treeDefaults: NonNullable<ServerOptions['treeDefaults']>
  vfs: Vfs | undefined
  now: () => number
  maxTransferMbps: number | undefined
  replicationLeaseTtlMs: number | undefined
  follower: FollowerServerOptions | undefined
}

function integerIn(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new TypeError(`ServerOptions.${name} must be an integer in [${min}, ${max}]`)
  return v
}

function positiveNumber(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new TypeError(`ServerOptions.${name} must be a positive number`)
  return value
}

/** Applies defaults and checks bounds; throws TypeError on a programmer mistake. */
export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  if (typeof options.dataDir !== 'string' || options.dataDir.length === 0) throw new TypeError('ServerOptions.dataDir is required')
  const tokens = options.tokens ?? []
  for (const t of tokens) {
    if (typeof t.token !== 'string' || t.token.length === 0) throw new TypeError('every token is a non-empty string')
    if (t.role !== 'read' && t.role !== 'write' && t.role !== 'admin') throw new TypeError('token roles are read, write or admin')
  }
  const sync = options.sync ?? 'always'
  if (sync !== 'always' && sync !== 'none') throw new TypeError("ServerOptions.sync is 'always' or 'none'")
  const ttlMax = integerIn('snapshotTtlSecondsMax', options.snapshotTtlSecondsMax, SNAPSHOT_TTL_SECONDS_MAX, 1, SNAPSHOT_TTL_SECONDS_MAX)
  return {
    dataDir: options.dataDir,
    tokens: tokens.map((t) => ({ token: t.token, role: t.role })),
    bodyLimitBytes: integerIn('bodyLimitBytes', options.bodyLimitBytes, BODY_LIMIT_BYTES_DEFAULT, 1, BODY_LIMIT_BYTES_MAX),
    sync,
    logger: options.logger ?? false,
    snapshotTtlSecondsDefault: integerIn('snapshotTtlSecondsDefault', options.snapshotTtlSecondsDefault, Math.min(SNAPSHOT_TTL_SECONDS_DEFAULT, ttlMax), 1, ttlMax),
    snapshotTtlSecondsMax: ttlMax,
    cursorTtlSeconds: integerIn('cursorTtlSeconds', options.cursorTtlSeconds, CURSOR_TTL_SECONDS_DEFAULT, 1, SNAPSHOT_TTL_SECONDS_MAX),
    snapshotPinsPerTreeMax: integerIn('snapshotPinsPerTreeMax', options.snapshotPinsPerTreeMax, SNAPSHOT_PINS_PER_TREE_MAX, 1, SNAPSHOT_PINS_PER_TREE_MAX),
    maxRestoreBytes: integerIn('maxRestoreBytes', options.maxRestoreBytes, RESTORE_BYTES_MAX_DEFAULT, 1, Number.MAX_SAFE_INTEGER),
    https: options.https,
    treeDefaults: { ...options.treeDefaults },
    vfs: options.vfs,
    now: options.now ?? Date.now,
    maxTransferMbps: options.maxTransferMbps === undefined ? undefined : positiveNumber('maxTransferMbps', options.maxTransferMbps),
    replicationLeaseTtlMs: options.replicationLeaseTtlMs === undefined
      ? undefined
      : integerIn('replicationLeaseTtlMs', options.replicationLeaseTtlMs, 0, 1, 86_400_000),
    follower: options.follower,
  }
}

/**
 * True when `host` names only the loopback interface: `localhost`, 127.0.0.0/8, `::1` (also
 * bracketed) or an IPv4-mapped 127.x address. `0.0.0.0`, `::` and every other address are not.
 * server.ts refuses to listen on a non-loopback host when no tokens are configured.
 */
export function isLoopbackHost(host: string): boolean {
  if (typeof host !== 'string') return false
  let h = host.trim().toLowerCase()
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  if (h === 'localhost' || h === 'localhost.') return true
  if (h.startsWith('::ffff:')) {
    const mapped = h.slice('::ffff:'.length)
    if (isIP(mapped) === 4) h = mapped
  }
  if (isIP(h) === 4) return h.split('.')[0] === '127'
  if (isIP(h) === 6) return /^(0{0,4}:){2,7}0{0,3}1$/.test(h) || h === '::1'
  return false
}
