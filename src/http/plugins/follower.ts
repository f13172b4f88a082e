/**
 * Read-your-writes and the follower's write refusal (API.md "Follower", "Details"):
 *
 * - `X-Min-Seqno: N` on a key read or a scan: a follower waits until it has applied N (at most
 *   MIN_SEQNO_WAIT_MS), then answers `503 FOLLOWER_BEHIND`; a leader always satisfies it (N was
 *   returned by one of its writes). A value that is not a decimal integer is
 *   `400 INVALID_MIN_SEQNO`, on both.
 * - On a follower, every route needing the write or admin role answers
 *   `409 READ_ONLY_FOLLOWER` with `Location` naming the same path on the leader, and every
 *   key read and scan carries `X-Seqno` (the follower's applied seqno when the read began; the
 *   key route sets the exact one itself).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'

import { httpError } from '../errors.js'

/** API.md: a read with X-Min-Seqno waits up to 5 s for the follower. */
export const MIN_SEQNO_WAIT_MS = 5_000
const READ_ROUTES = new Set(['/v1/trees/:tree/keys/:key', '/v1/trees/:tree/scan'])

declare module 'fastify' {
  interface FastifyInstance {
    /** On a follower: the `replication` figures of a tree's stats (API.md); else undefined. */
    replicationStats: ((tree: string) => object | undefined) | undefined
  }
}

export interface FollowerPluginOptions {
  /** The leader's base URL (for Location); undefined on a leader. */
  leaderUrl: string | undefined
  replicationStats?: (tree: string) => object | undefined
}

/** `{ replication }` for a follower's tree stats, `{}` on a leader. */
export function replicationStatsOf(app: FastifyInstance, tree: string): { replication?: object } {
  const stats = app.replicationStats?.(tree)
  return stats === undefined ? {} : { replication: stats }
}

function isKeyReadOrScan(request: FastifyRequest): boolean {
  const url = request.routeOptions.url
  return url !== undefined && READ_ROUTES.has(url) && (request.method === 'GET' || request.method === 'HEAD')
}

async function followerPluginImpl(app: FastifyInstance, options: FollowerPluginOptions): Promise<void> {
  const leader = options.leaderUrl?.replace(/\/+$/, '')
  app.decorate('replicationStats', options.replicationStats)
  if (leader !== undefined) {
    app.addHook('onRequest', async (request, reply) => {
      const role = request.routeOptions.config.role
      if (role !== 'write' && role !== 'admin') return
      reply.header('location', `${leader}${request.originalUrl}`)
      throw httpError('READ_ONLY_FOLLOWER', 'this server is a read-only follower; send writes to its leader (Location)', { location: `${leader}${request.originalUrl}` })
    })
  }
  const minSeqno = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!isKeyReadOrScan(request)) return
    const header = request.headers['x-min-seqno']
    const tree = app.catalog.get((request.params as { tree: string }).tree)
    if (leader !== undefined && tree !== undefined) reply.header('x-seqno', String(tree.seqno))
    if (header === undefined) return
    const text = Array.isArray(header) ? header[0] ?? '' : header
    if (!/^[0-9]{1,16}$/.test(text.trim())) throw httpError('INVALID_MIN_SEQNO', 'X-Min-Seqno must be a decimal integer')
    const min = Number(text.trim())
    if (leader === undefined || tree === undefined || tree.seqno >= min) return
    const ac = new AbortController()
    reply.raw.once('close', () => ac.abort())
    const caughtUp = await tree.waitForSeqno(min, MIN_SEQNO_WAIT_MS, ac.signal)
    reply.header('x-seqno', String(tree.seqno))
    if (!caughtUp) throw httpError('FOLLOWER_BEHIND', `the follower has applied seqno ${tree.seqno}, not yet ${min}; retry or read from the leader`, { 'x-seqno': String(tree.seqno) })
  }
  // A callback hook: on a leader, a request without X-Min-Seqno (nearly all) costs no promise.
  app.addHook('preHandler', (request, reply, done) => {
    if (leader === undefined && request.headers['x-min-seqno'] === undefined) {
      done()
      return
    }
    minSeqno(request, reply).then(() => done(), done)
  })
}

export const followerPlugin: FastifyPluginAsync<FollowerPluginOptions> = Object.assign(followerPluginImpl, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'strata-follower',
})
