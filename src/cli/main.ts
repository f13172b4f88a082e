#!/usr/bin/env node
/**
 * `strata`: the command line (package.json `bin`). `serve` runs the leader; `backup` and
 * `restore` (backup-command.ts, restore-command.ts) make and restore backups; `follow`
 * (follow-command.ts) runs a read-only follower. Flags are parsed strictly (node:util parseArgs):
 * an unknown flag or a bad value prints one clear line and exits 2 before anything is opened.
 *
 * Exit codes: 0 success (including a graceful shutdown on SIGTERM/SIGINT), 1 a failure while
 * starting or stopping (the data directory is locked by another process, the port is taken, a
 * tree did not close cleanly), 2 a usage or configuration error (bad flag, bad tokens/key file,
 * non-loopback host without tokens, a feature not implemented yet). A tree that cannot be opened
 * does not stop the server: /readyz answers 503 naming it, and it can be dropped.
 *
 * Output: logs are JSON lines on stdout (pino, with request ids); this file writes the help on
 * stdout and one human line on stderr once listening: `strata: listening on <url> ...`.
 */
import type { RunningServer } from '../http/server.js'
import { COMMANDS, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, mainHelp, serveHelp } from './help.js'
import { UsageError, parseServeArgs, type ServeConfig } from './serve-config.js'

/** Runs the command line; resolves with the exit code once the command is over. */
async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(mainHelp() + '\n')
    return command === undefined ? EXIT_USAGE : EXIT_OK
  }
  const known = COMMANDS.find((c) => c.name === command)
  if (known === undefined) {
    process.stderr.write(`strata: unknown command '${command}'\n\n${mainHelp()}\n`)
    return EXIT_USAGE
  }
  if (known.coming) {
    process.stderr.write(`strata: '${command}' is not implemented yet\n`)
    return EXIT_USAGE
  }
  // Loaded on demand, like the server: --help of serve does not load the backup code.
  if (command === 'backup') return (await import('./backup-command.js')).runBackup(rest)
  if (command === 'restore') return (await import('./restore-command.js')).runRestore(rest)
  if (command === 'follow') return (await import('./follow-command.js')).runFollow(rest)
  let config: ServeConfig | 'help'
  try {
    config = parseServeArgs(rest)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`strata: ${error.message}\nRun 'strata serve --help' for the flags.\n`)
    return EXIT_USAGE
  }
  if (config === 'help') {
    process.stdout.write(serveHelp() + '\n')
    return EXIT_OK
  }
  return serve(config)
}

async function serve(config: ServeConfig): Promise<number> {
  // Loaded only to serve: --help and flag errors answer without loading the engine.
  const { startServer } = await import('../http/server.js')
  let running: RunningServer
  try {
    running = await startServer({
      dataDir: config.dataDir,
      tokens: config.tokens,
      sync: config.sync,
      bodyLimitBytes: config.bodyLimitBytes,
      maxRestoreBytes: config.maxRestoreBytes,
      ...(config.maxTransferMbps === undefined ? {} : { maxTransferMbps: config.maxTransferMbps }),
      ...leaseTtlFromEnv(),
      ...historyFromEnv(),
      logger: { level: config.logLevel },
      host: config.host,
      port: config.port,
      tls: config.tls,
    })
  } catch (error) {
    return startFailure(error)
  }
  const auth = config.tokens === undefined ? 'no auth (loopback only)' : `${config.tokens.length} token(s)`
  process.stderr.write(`strata: listening on ${running.url} (data ${config.dataDir}, ${auth}, sync ${config.sync})\n`)
  try {
    await running.closed
  } catch (error) {
    const code = (error as { code?: unknown }).code
    process.stderr.write(`strata: stopped, but a tree did not close cleanly (${typeof code === 'string' ? code : 'error'}); acknowledged writes are in its log\n`)
    return EXIT_FAILURE
  }
  process.stderr.write('strata: stopped; every tree closed\n')
  return EXIT_OK
}

/**
 * TEST ONLY: STRATA_REPLICATION_LEASE_TTL_MS shortens the lease of a replication delta (API.md:
 * 60 s), so tests can let a lease expire under a slow follower. Not a supported setting.
 */
function leaseTtlFromEnv(): { replicationLeaseTtlMs?: number } {
  const value = process.env['STRATA_REPLICATION_LEASE_TTL_MS']
  if (value === undefined || !/^\d{1,9}$/.test(value) || Number(value) < 1) return {}
  return { replicationLeaseTtlMs: Number(value) }
}

/** TEST ONLY: STRATA_REPLICATION_HISTORY_EDITS shrinks the edit history deltas are served from
 *  (default 4096), so tests can make a follower fall off it (410 VERSION_GONE). */
function historyFromEnv(): { treeDefaults?: { replication: { historyEdits: number } } } {
  const value = process.env['STRATA_REPLICATION_HISTORY_EDITS']
  if (value === undefined || !/^\d{1,7}$/.test(value) || Number(value) < 1) return {}
  return { treeDefaults: { replication: { historyEdits: Number(value) } } }
}

function startFailure(error: unknown): number {
  if (error instanceof Error && error.name === 'ServeRefusedError') {
    process.stderr.write(`strata: ${error.message}\n`)
    return EXIT_USAGE
  }
  const code = (error as { code?: unknown }).code
  const message = error instanceof Error ? error.message : String(error)
  if (code === 'LOCKED') {
    process.stderr.write(`strata: the data directory is in use by another process (${message})\n`)
  } else if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    process.stderr.write(`strata: cannot listen: ${message}\n`)
  } else {
    process.stderr.write(`strata: failed to start: ${typeof code === 'string' ? `${code}: ` : ''}${message}\n`)
  }
  return EXIT_FAILURE
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`strata: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(EXIT_FAILURE)
  },
)
