/**
 * The listening server: buildServer() (app.ts) plus listen, the loopback rule and graceful
 * shutdown. app.ts never listens, so route tests use app.inject(); this file is what
 * `strata serve` (src/cli) runs.
 *
 * Invariants:
 * - With no tokens configured, only a loopback host is accepted (API.md, Auth); the check runs
 *   before the catalog is opened, so a refused start touches no tree.
 * - close() (and SIGTERM/SIGINT) stops accepting connections, lets in-flight requests finish
 *   (requests arriving on kept-alive connections meanwhile get 503), then closes every tree
 *   (the catalog's onClose hook in app.ts). Requests still running after SHUTDOWN_GRACE_MS are
 *   cut so a stuck client cannot hold the shutdown forever. close() is idempotent.
 */
import type { FastifyInstance } from 'fastify'
import { buildServer } from './app.js'
import { isLoopbackHost, type ServerOptions } from './options.js'

/**
 * In-flight requests get this long to finish at shutdown before their connections are cut: under
 * Kubernetes' default 30 s termination grace, so the trees are closed before a SIGKILL comes.
 */
export const SHUTDOWN_GRACE_MS = 25_000

export interface ListenOptions {
  host: string
  /** 0 picks a free port; the chosen one is in `url`. */
  port: number
  /** PEM certificate chain and private key: serve HTTPS (same as ServerOptions.https). */
  tls?: { cert: string | Buffer; key: string | Buffer }
  /** Signals that start a graceful shutdown (default SIGTERM and SIGINT; [] for none). */
  signals?: readonly NodeJS.Signals[]
  /** Overrides SHUTDOWN_GRACE_MS (tests). */
  shutdownGraceMs?: number
}

export type StartServerOptions = ServerOptions & ListenOptions

export interface RunningServer {
  /** e.g. `http://127.0.0.1:7070`. */
  readonly url: string
  readonly app: FastifyInstance
  /** Graceful shutdown; resolves once every tree is closed. Idempotent. */
  close(): Promise<void>
  /** Settles when the server has shut down, whoever started the shutdown; rejects if a tree failed to close. */
  readonly closed: Promise<void>
}

/** The server refuses to start as configured (exit code 2 from the CLI). */
export class ServeRefusedError extends Error {
  override readonly name = 'ServeRefusedError'
  readonly code = 'INSECURE_BIND'
}

/** Throws ServeRefusedError when `host` is not loopback and no tokens are configured. */
export function checkBindAllowed(host: string, tokens: readonly unknown[] | undefined): void {
  if ((tokens === undefined || tokens.length === 0) && !isLoopbackHost(host)) {
    throw new ServeRefusedError(
      `refusing to listen on ${host} without tokens: anyone reaching it could read and write every tree; ` +
      'configure bearer tokens (--tokens FILE) or listen on loopback (127.0.0.1, ::1, localhost)',
    )
  }
}

export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  checkBindAllowed(options.host, options.tokens)
  const { host, port, tls, signals = ['SIGTERM', 'SIGINT'], shutdownGraceMs = SHUTDOWN_GRACE_MS, ...serverOptions } = options
  const https = tls ?? serverOptions.https
  const app = await buildServer(https === undefined ? serverOptions : { ...serverOptions, https })
  let address: string
  try {
    address = await app.listen({ host, port })
    // Never serve plain HTTP when TLS was asked for (buildServer builds the https server).
    if (https !== undefined && !address.startsWith('https:')) throw new Error('TLS was configured but the server is not serving HTTPS')
  } catch (error) {
    await app.close()
    throw error
  }
  let closing: Promise<void> | undefined
  let settleClosed: (error?: unknown) => void = () => {}
  const closed = new Promise<void>((resolve, reject) => {
    settleClosed = (error) => (error === undefined ? resolve() : reject(error))
  })
  closed.catch(() => undefined) // observed through close() or `closed` by the caller
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing !== undefined) {
      app.log.warn({ signal }, 'second signal during shutdown: exiting now (acknowledged writes are durable)')
      process.exit(1)
    }
    app.log.info({ signal }, 'shutting down: finishing in-flight requests, then closing every tree')
    close().catch((error: unknown) => app.log.error({ err: error }, 'shutdown failed: a tree did not close cleanly'))
  }
  const close = (): Promise<void> => {
    closing ??= gracefulClose(app, shutdownGraceMs).then(
      () => settleClosed(),
      (error: unknown) => {
        settleClosed(error)
        throw error
      },
    ).finally(() => {
      for (const signal of signals) process.removeListener(signal, onSignal)
    })
    return closing
  }
  for (const signal of signals) process.on(signal, onSignal)
  return { url: address, app, close, closed }
}

async function gracefulClose(app: FastifyInstance, graceMs: number): Promise<void> {
  const timer = setTimeout(() => {
    app.log.warn({ graceMs }, 'shutdown grace period over: cutting the requests still running')
    app.server.closeAllConnections()
  }, graceMs)
  timer.unref()
  try {
    await app.close()
  } finally {
    clearTimeout(timer)
  }
}
