/**
 * `strata follow --leader URL --token TOKEN --data DIR [--host 127.0.0.1] [--port 7071]
 * [--tokens FILE] [--trees a,b] [--wal] [--max-transfer-mbps N]`: a read-only follower of the
 * leader at URL (API.md "Follower"; docs/replication.md). It replicates the named trees (default:
 * every tree of the leader) into DIR and serves every read endpoint from its copies; writes
 * answer 409 READ_ONLY_FOLLOWER with Location naming the leader.
 *
 * `--token` is an admin token of the leader (also read from $STRATA_LEADER_TOKEN: a flag is
 * visible in `ps`); `--tokens` guards the follower's own reads as on `serve`.
 *
 * Exit codes as `serve` (help.ts): 0 after a graceful shutdown, 1 a failure to start (the data
 * directory is in use, the port is taken), 2 a usage error.
 */
import { parseArgs } from 'node:util'

import { pino } from 'pino'

import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './help.js'
import { UsageError, readTokensFile, type TokenEntry } from './serve-config.js'

export const DEFAULT_FOLLOW_PORT = 7071
export const DEFAULT_FOLLOW_DATA_DIR = './strata-follower-data'
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
/** A rate under 0.01 Mbit/s would take hours per table; above 1 Tbit/s means no limit. */
const TRANSFER_MBPS_MIN = 0.01
const TRANSFER_MBPS_MAX = 1_000_000

export const FOLLOW_FLAGS = [
  { name: 'leader', value: 'URL', help: 'the leader, e.g. http://10.0.0.1:7070 (required)' },
  { name: 'token', value: 'TOKEN', help: 'an admin token of the leader (default: $STRATA_LEADER_TOKEN)' },
  { name: 'data', value: 'DIR', help: `directory of the follower's copies (default ${DEFAULT_FOLLOW_DATA_DIR})` },
  { name: 'host', value: 'HOST', help: 'address to listen on (default 127.0.0.1); anything but loopback needs --tokens' },
  { name: 'port', value: 'PORT', help: `TCP port, 0 for any free port (default ${DEFAULT_FOLLOW_PORT})` },
  { name: 'tokens', value: 'FILE', help: "JSON [{\"token\", \"role\"}] guarding this follower's own reads, as on serve" },
  { name: 'trees', value: 'a,b', help: 'trees to replicate (default: every tree of the leader, re-listed every 10 s)' },
  { name: 'wal', value: '', help: 'also apply the WAL stream: sub-second freshness instead of flush-to-flush' },
  { name: 'max-transfer-mbps', value: 'N', help: 'bound downloads (bootstrap and files) to N megabits per second' },
  { name: 'log-level', value: 'LEVEL', help: `${LOG_LEVELS.join('|')} (default info); logs are JSON lines on stdout` },
  { name: 'help', value: '', help: 'print this help and exit' },
] as const

const PARSE_OPTIONS = {
  leader: { type: 'string' },
  token: { type: 'string' },
  data: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  tokens: { type: 'string' },
  trees: { type: 'string' },
  wal: { type: 'boolean' },
  'max-transfer-mbps': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

export interface FollowConfig {
  leader: string
  token: string
  dataDir: string
  host: string
  port: number
  tokens: TokenEntry[] | undefined
  trees: string[] | undefined
  wal: boolean
  maxTransferMbps: number | undefined
  logLevel: string
}

const TREE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** Parses `follow`'s arguments; 'help' when --help was given. Throws UsageError. */
export function parseFollowArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): FollowConfig | 'help' {
  let values: Partial<Record<keyof typeof PARSE_OPTIONS, string | boolean>>
  try {
    values = parseArgs({ args: [...argv], options: PARSE_OPTIONS, strict: true, allowPositionals: false }).values
  } catch (error) {
    throw new UsageError(`follow: ${(error as Error).message.split('\n')[0]}`)
  }
  if (values.help === true) return 'help'
  const text = (name: keyof typeof PARSE_OPTIONS): string | undefined => values[name] as string | undefined
  const leader = text('leader')
  if (leader === undefined) throw new UsageError('follow: --leader URL is required')
  let url: URL
  try {
    url = new URL(leader)
  } catch {
    throw new UsageError(`follow: --leader must be a URL, got '${leader}'`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('follow: --leader must be an http:// or https:// URL')
  const token = text('token') ?? env['STRATA_LEADER_TOKEN']
  if (token === undefined || token === '') throw new UsageError('follow: --token (an admin token of the leader) is required')
  const trees = text('trees')?.split(',').map((s) => s.trim()).filter((s) => s !== '')
  for (const name of trees ?? []) if (!TREE_NAME.test(name)) throw new UsageError(`follow: --trees: '${name}' is not a valid tree name`)
  if (trees !== undefined && trees.length === 0) throw new UsageError('follow: --trees needs at least one name')
  const tokensFile = text('tokens')
  const level = text('log-level') ?? 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`follow: --log-level must be one of ${LOG_LEVELS.join(', ')}`)
  return {
    leader: url.href.replace(/\/+$/, ''),
    token,
    dataDir: nonEmpty('--data', text('data') ?? DEFAULT_FOLLOW_DATA_DIR),
    host: nonEmpty('--host', text('host') ?? '127.0.0.1'),
    port: portFlag(text('port')),
    tokens: tokensFile === undefined ? undefined : readTokensFile(tokensFile),
    trees,
    wal: values.wal === true,
    maxTransferMbps: mbpsFlag(text('max-transfer-mbps')),
    logLevel: level,
  }
}

function nonEmpty(flag: string, value: string): string {
  if (value.trim() === '') throw new UsageError(`follow: ${flag} needs a value`)
  return value
}

function portFlag(value: string | undefined): number {
  if (value === undefined) return DEFAULT_FOLLOW_PORT
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n > 65535) throw new UsageError(`follow: --port must be an integer from 0 to 65535, got '${value}'`)
  return n
}

/** Parses a --max-transfer-mbps value (shared with serve). */
export function mbpsFlag(value: string | undefined, command = 'follow'): number | undefined {
  if (value === undefined) return undefined
  const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isFinite(n) || n < TRANSFER_MBPS_MIN || n > TRANSFER_MBPS_MAX) {
    throw new UsageError(`${command}: --max-transfer-mbps must be a number from ${TRANSFER_MBPS_MIN} to ${TRANSFER_MBPS_MAX}, got '${value}'`)
  }
  return n
}

export function followHelp(): string {
  const labels = FOLLOW_FLAGS.map((f) => (f.value === '' ? `--${f.name}` : `--${f.name} ${f.value}`))
  const width = Math.max(...labels.map((l) => l.length)) + 2
  return [
    'usage: strata follow --leader URL --token TOKEN --data DIR [flags]',
    '',
    'A read-only follower: bootstraps each tree from the leader\'s checkpoint, then applies its',
    'version deltas (and, with --wal, its WAL stream); serves every read endpoint from its own',
    'copy; writes answer 409 READ_ONLY_FOLLOWER with Location naming the leader. A restart',
    'resumes from the last version applied. See docs/replication.md.',
    '',
    'flags:',
    ...FOLLOW_FLAGS.map((f, i) => `  ${labels[i]!.padEnd(width)}${f.help}`),
    '',
    'exit codes: 0 after a graceful shutdown (SIGTERM/SIGINT), 1 runtime failure, 2 usage error',
  ].join('\n')
}

export async function runFollow(argv: readonly string[]): Promise<number> {
  let config: FollowConfig | 'help'
  try {
    config = parseFollowArgs(argv)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`strata: ${error.message}\nRun 'strata follow --help' for the flags.\n`)
    return EXIT_USAGE
  }
  if (config === 'help') {
    process.stdout.write(followHelp() + '\n')
    return EXIT_OK
  }
  const { checkBindAllowed, startServer } = await import('../http/server.js')
  try {
    checkBindAllowed(config.host, config.tokens)
  } catch (error) {
    process.stderr.write(`strata: ${(error as Error).message}\n`)
    return EXIT_USAGE
  }
  const { Follower } = await import('../replication/follower.js')
  const log = pino({ level: config.logLevel, base: { role: 'follower' } })
  let follower
  try {
    follower = await Follower.start({
      leaderUrl: config.leader,
      token: config.token,
      dataDir: config.dataDir,
      ...(config.trees === undefined ? {} : { trees: config.trees }),
      wal: config.wal,
      ...(config.maxTransferMbps === undefined ? {} : { maxTransferMbps: config.maxTransferMbps }),
      log,
    })
  } catch (error) {
    const code = (error as { code?: unknown }).code
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(code === 'LOCKED' ? `strata: the data directory is in use by another process (${message})\n` : `strata: failed to start: ${message}\n`)
    return EXIT_FAILURE
  }
  let running
  try {
    const f = follower
    running = await startServer({
      dataDir: config.dataDir,
      ...(config.tokens === undefined ? {} : { tokens: config.tokens }),
      logger: { level: config.logLevel },
      host: config.host,
      port: config.port,
      follower: {
        catalog: f.catalog(),
        leaderUrl: config.leader,
        notReady: () => f.notReady(),
        replicationStats: (name) => f.replicationStats(name),
        registerMetrics: (registry) => f.registerMetrics(registry),
      },
    })
  } catch (error) {
    await follower.close().catch(() => undefined)
    process.stderr.write(`strata: cannot listen: ${error instanceof Error ? error.message : String(error)}\n`)
    return EXIT_FAILURE
  }
  const trees = config.trees === undefined ? 'every tree' : config.trees.join(',')
  process.stderr.write(`strata: listening on ${running.url} (follower of ${config.leader}: ${trees}${config.wal ? ', with WAL' : ''}; data ${config.dataDir})\n`)
  try {
    await running.closed
  } catch {
    process.stderr.write('strata: stopped, but a copy did not close cleanly; it is reopened (or bootstrapped again) at the next start\n')
    return EXIT_FAILURE
  }
  process.stderr.write('strata: stopped; every copy closed\n')
  return EXIT_OK
}
