/**
 * openapi.yaml against the server: fails when a route the app registers and a path of the
 * document disagree (either way), when a route's role differs from its `x-strata-role`, when a
 * route schema's query parameters, body or success status are not in the document, or when an
 * error code of the registry (src/http/errors.ts) is missing or has another status. And the
 * document is validated by a real OpenAPI validator (@readme/openapi-parser).
 */
import { validate, compileErrors } from '@readme/openapi-parser'
import t from 'tap'
import { buildServer } from '../../src/http/app.js'
import { ERROR_REGISTRY } from '../../src/http/errors.js'
import { OPENAPI_PATH, loadOpenApiDocument } from '../../src/http/openapi.js'
import type { RouteInfo } from '../../src/http/plugins/metrics.js'
import { ROUTE_SCHEMAS } from '../../src/http/schemas/index.js'
import { tempDir } from '../helpers/cli-process.js'

const METHODS = ['get', 'put', 'post', 'delete', 'head', 'patch', 'options'] as const
type Operation = Record<string, unknown> & {
  'x-strata-role'?: string
  parameters?: { $ref?: string; name?: string; in?: string }[]
  requestBody?: unknown
  responses: Record<string, unknown>
}

const document = loadOpenApiDocument()

/** Fastify `/v1/trees/:tree` -> OpenAPI `/v1/trees/{tree}`. */
function toOpenApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
}

function documentOperations(): Map<string, Operation> {
  const operations = new Map<string, Operation>()
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method] as Operation | undefined
      if (operation !== undefined) operations.set(`${method.toUpperCase()} ${path}`, operation)
    }
  }
  return operations
}

/** Resolves `{ $ref: '#/components/...' }` inside the document. */
function resolve<T>(value: T | { $ref: string }): T {
  if (typeof value === 'object' && value !== null && '$ref' in value && typeof value.$ref === 'string') {
    let node: unknown = document
    for (const part of value.$ref.replace(/^#\//, '').split('/')) node = (node as Record<string, unknown>)[part]
    return node as T
  }
  return value as T
}

async function appRoutes(): Promise<RouteInfo[]> {
  const dir = tempDir('strata-openapi-')
  t.teardown(dir.remove)
  const app = await buildServer({ dataDir: dir.path, logger: false })
  t.teardown(() => app.close())
  await app.ready()
  return [...app.metrics.routes()]
}

t.test('the document is valid OpenAPI 3.1', async (t) => {
  t.match(document.openapi, /^3\.1\./)
  const result = await validate(structuredClone(document) as Parameters<typeof validate>[0])
  t.ok(result.valid, result.valid ? `${OPENAPI_PATH} is valid` : compileErrors(result))
  t.same(result.warnings, [], 'no warnings')
})

t.test('every app route is documented, and every documented operation exists', async (t) => {
  const routes = await appRoutes()
  const operations = documentOperations()
  const registered = new Set(routes.map((r) => `${r.method} ${toOpenApiPath(r.url)}`))
  t.ok(routes.length >= 20, `${routes.length} routes registered`)
  for (const route of routes) {
    const key = `${route.method} ${toOpenApiPath(route.url)}`
    // Fastify answers HEAD for every GET: a HEAD is documented where API.md names it (keys).
    if (route.method === 'HEAD' && registered.has(`GET ${toOpenApiPath(route.url)}`) && !operations.has(key)) continue
    t.ok(operations.has(key), `the document describes ${key}`)
  }
  for (const key of operations.keys()) t.ok(registered.has(key), `the app serves ${key}`)
})

t.test("each operation's x-strata-role is the route's role", async (t) => {
  const routes = await appRoutes()
  const operations = documentOperations()
  for (const route of routes) {
    const operation = operations.get(`${route.method} ${toOpenApiPath(route.url)}`)
    if (operation === undefined) continue
    const documented = operation['x-strata-role']
    t.ok(['none', 'read', 'write', 'admin'].includes(String(documented)), `${route.method} ${route.url} has an x-strata-role`)
    t.equal(route.role ?? 'admin', documented, `${route.method} ${route.url}: role`)
    const security = (operation['security'] as unknown[] | undefined) ?? (document['security'] as unknown[])
    t.equal(security.length === 0, documented === 'none', `${route.method} ${route.url}: security matches the role`)
  }
})

t.test('route schemas and the document agree on parameters, bodies and success statuses', async (t) => {
  const operations = documentOperations()
  for (const [key, schema] of Object.entries(ROUTE_SCHEMAS) as [string, Record<string, unknown>][]) {
    const operation = operations.get(key)
    if (operation === undefined) {
      t.fail(`${key} (a route schema) is not in the document`)
      continue
    }
    const [method, path] = key.split(' ') as [string, string]
    const pathItem = document.paths[path] as { parameters?: Operation['parameters'] }
    const parameters = [...(pathItem.parameters ?? []), ...(operation.parameters ?? [])].map((p) => resolve(p as { name: string; in: string }))
    const query = (schema['querystring'] as { properties?: Record<string, unknown> } | undefined)?.properties ?? {}
    t.same(
      parameters.filter((p) => p.in === 'query').map((p) => p.name).sort(),
      Object.keys(query).sort(),
      `${key}: query parameters`,
    )
    const params = (schema['params'] as { properties?: Record<string, unknown> } | undefined)?.properties ?? {}
    t.same(parameters.filter((p) => p.in === 'path').map((p) => p.name).sort(), Object.keys(params).sort(), `${key}: path parameters`)
    const hasBody = schema['body'] !== undefined || schema['consumes'] !== undefined
    if (method !== 'HEAD') t.equal(operation.requestBody !== undefined, hasBody, `${key}: request body documented iff the route takes one`)
    const success = Object.keys((schema['response'] as Record<string, unknown>) ?? {}).filter((s) => /^2\d\d$/.test(s))
    for (const status of success) t.ok(status in operation.responses, `${key}: ${status} documented`)
  }
})

t.test('every error code of the registry is documented with its status', async (t) => {
  const errorCode = (document as unknown as { components: { schemas: Record<string, { enum: string[]; 'x-strata-codes': Record<string, { status: number }> }> } })
    .components.schemas['ErrorCode']!
  const registry = ERROR_REGISTRY as Record<string, { statusCode: number }>
  t.same([...errorCode.enum].sort(), Object.keys(registry).sort(), 'ErrorCode enum = the registry')
  for (const [code, entry] of Object.entries(registry)) {
    t.equal(errorCode['x-strata-codes'][code]?.status, entry.statusCode, `${code} -> ${entry.statusCode}`)
  }
  // Each code is named in the description of a response of its status.
  const responses = (document as unknown as { components: { responses: Record<string, { description: string }> } }).components.responses
  const text = Object.values(responses).map((r) => r.description).join('\n')
  for (const code of Object.keys(registry)) t.match(text, `\`${code}\``, `${code} appears in a shared response`)
})

t.test('GET /openapi.json serves this document', async (t) => {
  const dir = tempDir('strata-openapi-served-')
  t.teardown(dir.remove)
  const app = await buildServer({ dataDir: dir.path, logger: false })
  t.teardown(() => app.close())
  const response = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^application\/json/)
  t.same(response.json(), document)
})
