/**
 * buildServer(options): the Fastify app of the Strata service, without listening (server.ts
 * listens; tests use app.inject()). It opens the Catalog of `dataDir` first (so a locked data
 * directory fails here, before anything is served) and closes it in an onClose hook.
 *
 * Registration order: metrics (first: its onResponse hook sees every answer), error handling,
 * catalog and snapshot registry, auth, then the service routes and the /v1 routes.
 *
 * Fastify configuration, and why:
 * - Ajv with coerceTypes false (API.md: `{"key": 5}` is a 400, never coerced), no defaults, no
 *   removal of extra fields, and discriminator on (batch ops by `type`).
 * - rewriteUrl: the key segment of key routes becomes a placeholder before routing, because
 *   find-my-way cannot route `%FF` (see encoding.ts); handlers decode request.originalUrl.
 * - frameworkErrors: bad URLs and over-long parameters answer in the registry's shape, without
 *   echoing the URL (it may hold key bytes).
 * - bodyLimit: ServerOptions.bodyLimitBytes (413 BODY_TOO_LARGE past it).
 * - maxHeaderSize REQUEST_HEAD_BYTES_MAX: the longest key fits in a path, a cursor in a query.
 * - Request ids: `X-Request-Id` from the client if present, else a random UUID; echoed back.
 */
import { randomUUID } from 'node:crypto'

import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'

import { CheckpointStore } from '../backup/index.js'
import { Catalog, NodeVfs } from '../engine/index.js'
import { keyPathRewrite } from './encoding.js'
import { REQUEST_HEAD_BYTES_MAX, SNAPSHOT_SWEEP_INTERVAL_MS, resolveServerOptions, type ServerOptions } from './options.js'
import { authPlugin } from './plugins/auth.js'
import { catalogPlugin, type TreeCatalog } from './plugins/catalog.js'
import { followerPlugin } from './plugins/follower.js'
import { transferLimitPlugin } from './plugins/transfer-limit.js'
import { errorHandlerPlugin, frameworkErrorHandler } from './plugins/error-handler.js'
import { metricsPlugin } from './plugins/metrics.js'
import { batchRoutes } from './routes/batch.js'
import { checkpointRoutes } from './routes/checkpoints.js'
import { keyRoutes } from './routes/keys.js'
import { restoreRoutes } from './routes/restore.js'
import { replicationRoutes } from './routes/replication.js'
import { RateLimiter, mbpsToBytesPerSecond } from '../replication/rate-limit.js'
import { scanRoutes } from './routes/scan.js'
import { serviceRoutes } from './routes/service.js'
import { snapshotRoutes } from './routes/snapshots.js'
import { treeRoutes } from './routes/trees.js'
import { lazyChildLoggerFactory } from './request-logger.js'
import { SnapshotRegistry } from './snapshot-registry.js'

export type { ServerOptions } from './options.js'

/** Header carrying the request id, in and out. */
export const REQUEST_ID_HEADER = 'x-request-id'

/**
 * Fastify logs two lines per request at info; at thousands of requests per second that is a
 * large share of a core spent writing stdout. We log each request once, at debug, with the route
 * pattern (never the raw URL: it holds key bytes); a request that failed keeps its error line.
 */
class RequestLogAtDebug extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) {
      reply.log.error({ err: error, route: request.routeOptions.url, statusCode: reply.statusCode }, 'request errored')
      return
    }
    // Below debug nothing is built (routeOptions is a getter that builds an object).
    const log = reply.log as { isLevelEnabled?: (level: string) => boolean }
    if (log.isLevelEnabled !== undefined && !log.isLevelEnabled('debug')) return
    reply.log.debug(
      { method: request.method, route: request.routeOptions.url, statusCode: reply.statusCode, ms: reply.elapsedTime },
      'request completed',
    )
  }
}

function fastifyOptions(resolved: ReturnType<typeof resolveServerOptions>): FastifyServerOptions {
  const base: FastifyServerOptions = {
    logger: resolved.logger,
    logController: new RequestLogAtDebug(),
    // With a logger, each request's child logger is made only when it writes (request-logger.ts).
    ...(resolved.logger === false ? {} : { childLoggerFactory: lazyChildLoggerFactory }),
    bodyLimit: resolved.bodyLimitBytes,
    requestIdHeader: REQUEST_ID_HEADER,
    genReqId: () => randomUUID(),
    exposeHeadRoutes: true,
    rewriteUrl: (request) => keyPathRewrite(request.url ?? '/'),
    frameworkErrors: frameworkErrorHandler,
    ajv: { customOptions: { coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: false, discriminator: true } },
  }
  // `http`/`https` are the node server options (FastifyServerOptions' type omits them).
  const server = resolved.https === undefined
    ? { http: { maxHeaderSize: REQUEST_HEAD_BYTES_MAX } }
    : { https: { ...resolved.https, maxHeaderSize: REQUEST_HEAD_BYTES_MAX } }
  return { ...base, ...server } as FastifyServerOptions
}

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const resolved = resolveServerOptions(options)
  const follower = resolved.follower
  const catalog: TreeCatalog = follower?.catalog ?? await Catalog.open(resolved.dataDir, {
    defaults: { sync: resolved.sync, ...resolved.treeDefaults },
    ...(resolved.vfs === undefined ? {} : { vfs: resolved.vfs }),
  })
  const snapshots = new SnapshotRegistry({ now: resolved.now, pinsPerTreeMax: resolved.snapshotPinsPerTreeMax, sweepIntervalMs: SNAPSHOT_SWEEP_INTERVAL_MS })
  let app: FastifyInstance | undefined
  try {
    app = Fastify(fastifyOptions(resolved)) as unknown as FastifyInstance
    await app.register(metricsPlugin)
    await app.register(errorHandlerPlugin)
    await app.register(catalogPlugin, { catalog, snapshots })
    app.addHook('onRequest', (request, reply, done) => {
      reply.header(REQUEST_ID_HEADER, request.id)
      done()
    })
    await app.register(authPlugin, { tokens: resolved.tokens })
    // --max-transfer-mbps: one budget for replication files and checkpoint archives.
    const limiter = resolved.maxTransferMbps === undefined ? undefined : new RateLimiter(mbpsToBytesPerSecond(resolved.maxTransferMbps))
    await app.register(transferLimitPlugin, { limiter })
    // A follower refuses writes (409 + Location) and waits for X-Min-Seqno (plugins/follower.ts).
    await app.register(followerPlugin, {
      leaderUrl: follower?.leaderUrl,
      ...(follower === undefined ? {} : { replicationStats: follower.replicationStats }),
    })
    follower?.registerMetrics(app.metrics.registry)
    // Checkpoints and restores use node:fs under the data directory: only on the node Vfs.
    const onNodeFs = (resolved.vfs === undefined || resolved.vfs instanceof NodeVfs) && follower === undefined
    const checkpointStore = onNodeFs ? new CheckpointStore(resolved.dataDir) : undefined
    app.decorate('checkpointStore', checkpointStore)
    // Before the first request: remove temporaries and checkpoints of trees that are gone.
    app.addHook('onReady', async () => {
      const trees = new Map<string, string | undefined>(catalog.list().map((e) => [e.name, e.tree.treeId]))
      for (const f of catalog.failures()) trees.set(f.name, undefined)
      await checkpointStore?.sweep(trees)
    })
    await app.register(serviceRoutes, { catalog, ...(follower === undefined ? {} : { notReady: follower.notReady }) })
    await app.register(treeRoutes)
    await app.register(keyRoutes)
    await app.register(batchRoutes)
    await app.register(scanRoutes, { cursorTtlSeconds: resolved.cursorTtlSeconds })
    await app.register(snapshotRoutes, { ttlSecondsDefault: resolved.snapshotTtlSecondsDefault, ttlSecondsMax: resolved.snapshotTtlSecondsMax })
    await app.register(checkpointRoutes)
    await app.register(restoreRoutes, { maxRestoreBytes: resolved.maxRestoreBytes })
    await app.register(replicationRoutes, {
      ...(limiter === undefined ? {} : { limiter }),
      ...(resolved.replicationLeaseTtlMs === undefined ? {} : { leaseTtlMs: resolved.replicationLeaseTtlMs }),
    })
    return app
  } catch (error) {
    if (app !== undefined) await app.close().catch(() => undefined)
    snapshots.close()
    await catalog.close().catch(() => undefined)
    throw error
  }
}
