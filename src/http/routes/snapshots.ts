/**
 * Snapshot routes (API.md, Keys): POST /v1/trees/{tree}/snapshots pins the tree's current seqno
 * for `ttl` seconds (default snapshotTtlSecondsDefault, at most snapshotTtlSecondsMax) and
 * answers 201 { seqno, expiresAt }; DELETE /v1/trees/{tree}/snapshots/{seqno} releases it (204),
 * 404 SNAPSHOT_NOT_FOUND when no live snapshot has that seqno.
 *
 * Pinning a seqno that is already pinned extends its expiry (one pin per seqno: a DELETE
 * releases it for every client that pinned it). While pinned, reads and scans with `seqno=N`
 * are exact even across compactions; after expiry or release, a read below the compaction
 * horizon answers 410 SEQNO_UNAVAILABLE.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'

import { httpError } from '../errors.js'
import { requireTree } from '../plugins/catalog.js'
import { parseUnsigned } from '../schemas/common.js'
import { createSnapshotSchema, releaseSnapshotSchema } from '../schemas/snapshots.js'

export interface SnapshotRoutesOptions {
  ttlSecondsDefault: number
  ttlSecondsMax: number
}

export const snapshotRoutes: FastifyPluginAsync<SnapshotRoutesOptions> = async (app: FastifyInstance, options) => {
  app.post<{ Params: { tree: string }; Querystring: { ttl?: string } }>(
    '/v1/trees/:tree/snapshots',
    { schema: createSnapshotSchema, config: { role: 'write' } },
    async (request, reply) => {
      const name = request.params.tree
      const tree = requireTree(app.catalog, name)
      const ttlSeconds = parseUnsigned(request.query.ttl, 'ttl') ?? options.ttlSecondsDefault
      if (ttlSeconds < 1 || ttlSeconds > options.ttlSecondsMax) {
        throw httpError('VALIDATION_ERROR', `querystring/ttl must be 1 to ${options.ttlSecondsMax} seconds`)
      }
      const pin = app.snapshots.pinCurrent(name, tree, 'snapshot', ttlSeconds * 1000)
      if (pin === undefined) throw httpError('TOO_MANY_SNAPSHOTS', 'the tree pins the most snapshots it may; release some first')
      reply.code(201)
      return { seqno: pin.seqno, expiresAt: new Date(pin.expiresAtMs).toISOString() }
    },
  )

  app.delete<{ Params: { tree: string; seqno: string } }>(
    '/v1/trees/:tree/snapshots/:seqno',
    { schema: releaseSnapshotSchema, config: { role: 'write' } },
    async (request, reply) => {
      const name = request.params.tree
      const tree = requireTree(app.catalog, name)
      const seqno = parseUnsigned(request.params.seqno, 'seqno')!
      if (!app.snapshots.release(name, tree.treeId, 'snapshot', seqno)) {
        throw httpError('SNAPSHOT_NOT_FOUND', `no live snapshot at seqno ${seqno}`)
      }
      return reply.code(204).send()
    },
  )
}
