/**
 * Single-key routes (API.md, Keys): PUT/GET/HEAD/DELETE /v1/trees/{tree}/keys/{key} and
 * POST .../keys/{key}/merge. Values and operands travel raw as application/octet-stream: this
 * plugin takes no other Content-Type (415). An empty body is an empty value.
 *
 * The key is decoded from the ORIGINAL url (request.originalUrl), byte by byte: app.ts rewrote
 * the segment to a placeholder before routing (see ../encoding.ts), so `:key` is not used.
 *
 * GET answers the raw value with `X-Seqno`, the seqno the read saw (the query's `seqno`, or the
 * tree's newest at the time of the read); a 404 KEY_NOT_FOUND carries it too. HEAD is Fastify's
 * automatic HEAD of the GET route (same headers, no body).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'

import { VALUE_BYTES_MAX, type Tree } from '../../engine/index.js'
import { keyFromUrl } from '../encoding.js'
import { httpError } from '../errors.js'
import { requireTree } from '../plugins/catalog.js'
import { parseUnsigned } from '../schemas/common.js'
import { deleteKeySchema, getKeySchema, mergeKeySchema, putKeySchema } from '../schemas/keys.js'

interface KeyParams {
  tree: string
  key: string
}

interface KeyTarget {
  name: string
  tree: Tree
  key: Buffer
}

function target(app: FastifyInstance, request: FastifyRequest<{ Params: KeyParams }>): KeyTarget {
  const name = request.params.tree
  const tree = requireTree(app.catalog, name)
  return { name, tree, key: keyFromUrl(request.originalUrl) }
}

/** The raw body as a value: empty when absent, VALUE_TOO_LARGE past the engine's bound. */
function rawBody(body: unknown): Buffer {
  const value = Buffer.isBuffer(body) ? body : Buffer.alloc(0)
  if (value.length > VALUE_BYTES_MAX) throw httpError('VALUE_TOO_LARGE', `values are at most ${VALUE_BYTES_MAX} bytes`)
  return value
}

export const keyRoutes: FastifyPluginAsync = async (app: FastifyInstance) => {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))

  app.put<{ Params: KeyParams }>('/v1/trees/:tree/keys/:key', { schema: putKeySchema, config: { role: 'write' } }, async (request) => {
    const { name, tree, key } = target(app, request)
    const seqno = await tree.put(key, rawBody(request.body))
    app.metrics.treeWrites(name)
    return { seqno }
  })

  app.get<{ Params: KeyParams; Querystring: { seqno?: string } }>(
    '/v1/trees/:tree/keys/:key',
    { schema: getKeySchema, config: { role: 'read' } },
    // Synchronous (the engine's get is): the answer is written in this turn, no promise to
    // settle first. A throw here reaches the error handler like an async rejection.
    (request, reply) => {
      const { name, tree, key } = target(app, request)
      const asOf = parseUnsigned(request.query.seqno, 'seqno')
      // get() is synchronous: tree.seqno read just before it is the snapshot it reads at.
      const readAt = asOf ?? tree.seqno
      const value = tree.get(key, asOf === undefined ? undefined : { seqno: asOf })
      app.metrics.treeReads(name)
      if (value === undefined) throw httpError('KEY_NOT_FOUND', 'the key has no value at this seqno', { 'x-seqno': String(readAt) })
      reply.header('x-seqno', String(readAt)).type('application/octet-stream').send(value)
    },
  )

  app.delete<{ Params: KeyParams }>('/v1/trees/:tree/keys/:key', { schema: deleteKeySchema, config: { role: 'write' } }, async (request) => {
    const { name, tree, key } = target(app, request)
    const seqno = await tree.delete(key)
    app.metrics.treeWrites(name)
    return { seqno }
  })

  app.post<{ Params: KeyParams }>('/v1/trees/:tree/keys/:key/merge', { schema: mergeKeySchema, config: { role: 'write' } }, async (request) => {
    const { name, tree, key } = target(app, request)
    const seqno = await tree.merge(key, rawBody(request.body))
    app.metrics.treeWrites(name)
    return { seqno }
  })
}
