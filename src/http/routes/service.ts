/**
 * Service routes (API.md, Service): /healthz, /readyz, /metrics, /openapi.json. No role is
 * needed for any of them (auth config `role: 'none'`); none touches key bytes.
 *
 * - /healthz answers 200 as long as the process serves requests (liveness).
 * - /readyz answers 200 when every tree under the data directory is open and writable: a tree
 *   that failed to open, or one degraded to read-only by a background failure
 *   (stats().backgroundError), makes it 503 and is named with its error code (readiness).
 * - /metrics is the app's own prom-client registry (plugins/metrics.ts) in Prometheus text.
 * - /openapi.json is openapi.yaml, parsed at registration (a broken document fails startup).
 */
import type { FastifyPluginAsync } from 'fastify'
import type { TreeCatalog } from '../plugins/catalog.js'
import { loadOpenApiDocument } from '../openapi.js'

export interface ServiceRoutesOptions {
  catalog: TreeCatalog
  /** Trees not ready for another reason (a follower's tree before its first bootstrap). */
  notReady?: () => { tree: string; code: string }[]
}

export interface Readiness {
  ready: boolean
  /** Trees open and writable. */
  trees: number
  /** Trees that are not: failed to open, or read-only after a background failure. */
  unavailable: { tree: string; code: string }[]
}

/** Pure readiness from the catalog's state (no I/O). */
export function readiness(catalog: TreeCatalog, notReady: () => { tree: string; code: string }[] = () => []): Readiness {
  const unavailable: Readiness['unavailable'] = [...notReady(), ...catalog.failures().map((f) => ({ tree: f.name, code: f.error.code }))]
  let trees = 0
  for (const entry of catalog.list()) {
    let code: string | undefined
    try {
      code = entry.tree.stats().backgroundError?.code
    } catch (error) {
      code = typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'INTERNAL'
    }
    if (code === undefined) trees += 1
    else unavailable.push({ tree: entry.name, code })
  }
  return { ready: unavailable.length === 0, trees, unavailable }
}

const statusSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string', enum: ['ok'] } },
} as const

const readinessSchema = {
  type: 'object',
  required: ['status', 'trees', 'unavailable'],
  properties: {
    status: { type: 'string', enum: ['ready', 'not_ready'] },
    trees: { type: 'integer', minimum: 0 },
    unavailable: {
      type: 'array',
      items: { type: 'object', required: ['tree', 'code'], properties: { tree: { type: 'string' }, code: { type: 'string' } } },
    },
  },
} as const

/** Auth: these routes need no token (API.md, Auth). */
const PUBLIC = { role: 'none' } as const

export const serviceRoutes: FastifyPluginAsync<ServiceRoutesOptions> = async (app, options) => {
  const { catalog } = options
  const document = loadOpenApiDocument()
  app.metrics.setTreeSource(() => catalog.list().map((entry) => ({ name: entry.name, stats: () => entry.tree.stats() })))

  app.get('/healthz', { config: PUBLIC, schema: { response: { 200: statusSchema } } }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', { config: PUBLIC, schema: { response: { 200: readinessSchema, 503: readinessSchema } } }, async (_request, reply) => {
    const state = readiness(catalog, options.notReady)
    reply.code(state.ready ? 200 : 503)
    return { status: state.ready ? 'ready' : 'not_ready', trees: state.trees, unavailable: state.unavailable }
  })

  app.get('/metrics', { config: PUBLIC }, async (_request, reply) => {
    const text = await app.metrics.registry.metrics()
    reply.type(app.metrics.registry.contentType)
    return text
  })

  app.get('/openapi.json', { config: PUBLIC }, async (_request, reply) => {
    reply.type('application/json; charset=utf-8')
    return document
  })
}
