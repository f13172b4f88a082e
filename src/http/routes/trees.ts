/**
 * Tree routes (API.md, Trees): list, create, stats, drop, flush, compact.
 *
 * Options of PUT /v1/trees/{tree}: an unknown name, or a known one with a wrong type or value,
 * is 400 INVALID_OPTION (the body schema, with config.validationCode); a known option this
 * server cannot honour yet is 400 UNSUPPORTED_OPTION; the rest go to Catalog.create, which
 * persists them with the tree. An empty body (with or without Content-Type: application/json)
 * means no options.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'

import { isStrataError, type Tree } from '../../engine/index.js'
import type { CatalogTreeOptions } from '../../engine/index.js'
import { httpError } from '../errors.js'
import { requireTree } from '../plugins/catalog.js'
import { replicationStatsOf } from '../plugins/follower.js'
import { checkpointUsage } from './checkpoints.js'
import { compactTreeSchema, createTreeSchema, dropTreeSchema, flushTreeSchema, getTreeSchema, listTreesSchema } from '../schemas/trees.js'

interface TreeParams {
  tree: string
}

/** PUT /v1/trees/{tree} body (validated by treeOptionsSchema). */
export interface TreeOptionsBody {
  mergeOperator?: 'counter' | 'append' | 'max'
  compression?: 'none' | 'lz4' | 'zstd'
  zstdDictionary?: boolean
  encryption?: boolean
  blobThresholdBytes?: number
  filterBitsPerKey?: number
  compaction?: 'leveled' | 'tiered' | 'fifo'
  sync?: 'always' | 'none'
}

/** Splits API options into what the catalog supports; UNSUPPORTED_OPTION for the others. Pure. */
export function catalogOptionsOf(body: TreeOptionsBody): CatalogTreeOptions {
  const unsupported = (what: string) => httpError('UNSUPPORTED_OPTION', `${what} is not supported by this server yet`)
  if (body.compression === 'lz4') throw unsupported('compression lz4')
  if (body.zstdDictionary === true) throw unsupported('zstdDictionary')
  if (body.encryption === true) throw unsupported('encryption (it needs a server key)')
  if (body.blobThresholdBytes !== undefined && body.blobThresholdBytes > 0) throw unsupported('blobThresholdBytes (key/value separation)')
  if (body.compaction !== undefined && body.compaction !== 'leveled') throw unsupported(`compaction ${body.compaction}`)
  const out: CatalogTreeOptions = {}
  if (body.mergeOperator !== undefined) out.mergeOperator = body.mergeOperator
  if (body.compression !== undefined) out.compression = body.compression
  if (body.sync !== undefined) out.sync = body.sync
  if (body.filterBitsPerKey !== undefined) out.filterBitsPerKey = body.filterBitsPerKey
  return out
}

/** GET /v1/trees/{tree}: the engine's stats with the name first. */
export function treeStats(name: string, tree: Tree): Record<string, unknown> {
  return { name, ...tree.stats() }
}

export const treeRoutes: FastifyPluginAsync = async (app: FastifyInstance) => {
  // In this plugin an empty JSON body means "no options" (curl -X PUT -H 'content-type: ...').
  const json = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, undefined)
    else json(request, body as string, done)
  })

  app.get('/v1/trees', { schema: listTreesSchema, config: { role: 'read' } }, async () => {
    const trees = app.catalog.list().map(({ name, tree }) => {
      const s = tree.stats()
      return { name, treeId: s.treeId, seqno: s.seqno, versionId: s.versionId, tables: s.tables, diskBytes: s.diskBytes, readOnly: s.backgroundError !== null }
    })
    const unavailable = app.catalog.failures().map((f) => ({ name: f.name, code: f.error.code }))
    return { trees, unavailable }
  })

  app.put<{ Params: TreeParams; Body: TreeOptionsBody | undefined }>(
    '/v1/trees/:tree',
    {
      schema: createTreeSchema,
      config: { role: 'admin', validationCode: 'INVALID_OPTION' },
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {}
      },
    },
    async (request, reply) => {
      const name = request.params.tree
      const options = catalogOptionsOf(request.body ?? {})
      let tree: Tree
      try {
        tree = await app.catalog.create(name, options)
      } catch (error) {
        if (isStrataError(error, 'EXISTS')) throw httpError('TREE_EXISTS', `tree '${name}' exists`)
        throw error
      }
      reply.code(201)
      return treeStats(name, tree)
    },
  )

  app.get<{ Params: TreeParams }>('/v1/trees/:tree', { schema: getTreeSchema, config: { role: 'read' } }, async (request) => {
    const name = request.params.tree
    const tree = requireTree(app.catalog, name)
    // Named checkpoints of the tree and the bytes they keep on disk (src/backup).
    return { ...treeStats(name, tree), checkpoints: await checkpointUsage(app, name, tree.treeId), ...replicationStatsOf(app, name) }
  })

  app.delete<{ Params: TreeParams }>('/v1/trees/:tree', { schema: dropTreeSchema, config: { role: 'admin' } }, async (request, reply) => {
    const name = request.params.tree
    try {
      await app.catalog.drop(name)
    } catch (error) {
      if (isStrataError(error, 'NOT_FOUND')) throw httpError('TREE_NOT_FOUND', `no tree named '${name}'`)
      throw error
    }
    app.snapshots.releaseTree(name)
    app.metrics.forgetTree(name)
    return reply.code(204).send()
  })

  app.post<{ Params: TreeParams }>('/v1/trees/:tree/flush', { schema: flushTreeSchema, config: { role: 'write' } }, async (request) => {
    const tree = requireTree(app.catalog, request.params.tree)
    return { versionId: await tree.flush() }
  })

  app.post<{ Params: TreeParams }>('/v1/trees/:tree/compact', { schema: compactTreeSchema, config: { role: 'write' } }, async (request) => {
    const tree = requireTree(app.catalog, request.params.tree)
    return { versionId: await tree.compact() }
  })
}
