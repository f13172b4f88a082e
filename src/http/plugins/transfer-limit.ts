/**
 * `--max-transfer-mbps` on the leader: the checkpoint archives a follower bootstraps from spend
 * the server's transfer budget too (the replication file route spends it itself), so a
 * bootstrap never starves foreground traffic. The archive stream is piped through the shared
 * rate limiter; a client that goes away destroys the pipeline, which closes the archive.
 */
import { pipeline, type Readable } from 'node:stream'

import type { FastifyInstance, FastifyPluginAsync } from 'fastify'

import { throttle, type RateLimiter } from '../../replication/rate-limit.js'

/** Routes whose answer is a checkpoint archive. */
const ARCHIVE_ROUTES = new Set(['/v1/trees/:tree/checkpoint', '/v1/trees/:tree/checkpoints/:id'])

export interface TransferLimitOptions {
  limiter: RateLimiter | undefined
}

function isStream(payload: unknown): payload is Readable {
  return typeof payload === 'object' && payload !== null && typeof (payload as { pipe?: unknown }).pipe === 'function'
}

async function transferLimitImpl(app: FastifyInstance, options: TransferLimitOptions): Promise<void> {
  const limiter = options.limiter
  if (limiter === undefined) return
  app.addHook('onSend', async (request, _reply, payload) => {
    if (request.method !== 'GET' || !ARCHIVE_ROUTES.has(request.routeOptions.url ?? '') || !isStream(payload)) return payload
    return pipeline(payload, throttle(limiter), () => undefined)
  })
}

export const transferLimitPlugin: FastifyPluginAsync<TransferLimitOptions> = Object.assign(transferLimitImpl, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'strata-transfer-limit',
})
