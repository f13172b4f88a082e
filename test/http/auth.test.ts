/**
 * Auth matrix: every route x {no token, wrong token, read, write, admin}. A route answers 401
 * (with WWW-Authenticate: Bearer) without a valid token, 403 when the token's role is below the
 * route's, and 2xx otherwise; the service routes need no token. Each request is built to
 * succeed, so "allowed" is asserted as a 2xx, not merely as "not 401/403".
 */
import t from 'tap'
import type { FastifyInstance } from 'fastify'

import { isLoopbackHost } from '../../src/http/options.js'
import { ROUTE_SCHEMAS } from '../../src/http/schemas/index.js'
import { assertError, bearer, createTree, makeApp, putKey, TOKEN_ENTRIES, TOKENS, type TokenRole } from './helpers.js'

type Caller = 'none' | 'wrong' | TokenRole
type Needed = 'none' | TokenRole

interface RouteCase {
  name: string
  needs: Needed
  /** Builds the request; may prepare state with the admin token first. */
  request: (app: FastifyInstance, n: number) => Promise<{ method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE'; url: string; payload?: unknown; headers?: Record<string, string> }>
}

const octet = { 'content-type': 'application/octet-stream' }
const eight = Buffer.alloc(8, 0)

const ROUTES: RouteCase[] = [
  { name: 'GET /healthz', needs: 'none', request: async () => ({ method: 'GET', url: '/healthz' }) },
  { name: 'GET /readyz', needs: 'none', request: async () => ({ method: 'GET', url: '/readyz' }) },
  { name: 'GET /metrics', needs: 'none', request: async () => ({ method: 'GET', url: '/metrics' }) },
  { name: 'GET /openapi.json', needs: 'none', request: async () => ({ method: 'GET', url: '/openapi.json' }) },
  { name: 'GET /v1/trees', needs: 'read', request: async () => ({ method: 'GET', url: '/v1/trees' }) },
  { name: 'PUT /v1/trees/{tree}', needs: 'admin', request: async (_app, n) => ({ method: 'PUT', url: `/v1/trees/new-${n}` }) },
  { name: 'GET /v1/trees/{tree}', needs: 'read', request: async () => ({ method: 'GET', url: '/v1/trees/t' }) },
  {
    name: 'DELETE /v1/trees/{tree}',
    needs: 'admin',
    request: async (app, n) => {
      await app.inject({ method: 'PUT', url: `/v1/trees/tmp-${n}`, headers: bearer('admin') })
      return { method: 'DELETE', url: `/v1/trees/tmp-${n}` }
    },
  },
  { name: 'POST /v1/trees/{tree}/flush', needs: 'write', request: async () => ({ method: 'POST', url: '/v1/trees/t/flush' }) },
  { name: 'POST /v1/trees/{tree}/compact', needs: 'write', request: async () => ({ method: 'POST', url: '/v1/trees/t/compact' }) },
  { name: 'PUT /v1/trees/{tree}/keys/{key}', needs: 'write', request: async () => ({ method: 'PUT', url: '/v1/trees/t/keys/p', payload: Buffer.from('v'), headers: octet }) },
  { name: 'GET /v1/trees/{tree}/keys/{key}', needs: 'read', request: async () => ({ method: 'GET', url: '/v1/trees/t/keys/k' }) },
  { name: 'HEAD /v1/trees/{tree}/keys/{key}', needs: 'read', request: async () => ({ method: 'HEAD', url: '/v1/trees/t/keys/k' }) },
  { name: 'DELETE /v1/trees/{tree}/keys/{key}', needs: 'write', request: async () => ({ method: 'DELETE', url: '/v1/trees/t/keys/d' }) },
  { name: 'POST /v1/trees/{tree}/keys/{key}/merge', needs: 'write', request: async () => ({ method: 'POST', url: '/v1/trees/m/keys/c/merge', payload: eight, headers: octet }) },
  { name: 'POST /v1/trees/{tree}/batch', needs: 'write', request: async () => ({ method: 'POST', url: '/v1/trees/t/batch', payload: { ops: [{ type: 'put', key: 'b', value: 'v' }] } }) },
  { name: 'POST /v1/trees/{tree}/delete-range', needs: 'write', request: async () => ({ method: 'POST', url: '/v1/trees/t/delete-range', payload: { prefix: 'zz' } }) },
  { name: 'GET /v1/trees/{tree}/scan', needs: 'read', request: async () => ({ method: 'GET', url: '/v1/trees/t/scan' }) },
  { name: 'POST /v1/trees/{tree}/snapshots', needs: 'write', request: async () => ({ method: 'POST', url: '/v1/trees/t/snapshots' }) },
  {
    name: 'DELETE /v1/trees/{tree}/snapshots/{seqno}',
    needs: 'write',
    request: async (app) => {
      const res = await app.inject({ method: 'POST', url: '/v1/trees/t/snapshots', headers: bearer('admin') })
      return { method: 'DELETE', url: `/v1/trees/t/snapshots/${(res.json() as { seqno: number }).seqno}` }
    },
  },
  { name: 'GET /v1/trees/{tree}/checkpoint', needs: 'admin', request: async () => ({ method: 'GET', url: '/v1/trees/t/checkpoint' }) },
  { name: 'POST /v1/trees/{tree}/checkpoints', needs: 'admin', request: async () => ({ method: 'POST', url: '/v1/trees/t/checkpoints' }) },
  { name: 'GET /v1/trees/{tree}/checkpoints', needs: 'admin', request: async () => ({ method: 'GET', url: '/v1/trees/t/checkpoints' }) },
  {
    name: 'GET /v1/trees/{tree}/checkpoints/{id}',
    needs: 'admin',
    request: async (app) => ({ method: 'GET', url: `/v1/trees/t/checkpoints/${await namedCheckpoint(app)}` }),
  },
  {
    name: 'DELETE /v1/trees/{tree}/checkpoints/{id}',
    needs: 'admin',
    request: async (app) => ({ method: 'DELETE', url: `/v1/trees/t/checkpoints/${await namedCheckpoint(app)}` }),
  },
  {
    name: 'POST /v1/trees/{tree}/restore',
    needs: 'admin',
    request: async (app, n) => {
      const archive = await app.inject({ method: 'GET', url: '/v1/trees/t/checkpoint', headers: bearer('admin') })
      return { method: 'POST', url: `/v1/trees/restored-${n}/restore`, payload: archive.rawPayload, headers: { 'content-type': 'application/x-tar' } }
    },
  },
  { name: 'GET /v1/trees/{tree}/replication/state', needs: 'admin', request: async () => ({ method: 'GET', url: '/v1/trees/t/replication/state' }) },
  {
    name: 'GET /v1/trees/{tree}/replication/delta',
    needs: 'admin',
    request: async (app) => ({ method: 'GET', url: `/v1/trees/t/replication/delta?since=${await versionOf(app)}` }),
  },
  {
    name: 'GET /v1/trees/{tree}/replication/files/{kind}/{id}',
    needs: 'admin',
    request: async (app) => ({ method: 'GET', url: `/v1/trees/t/replication/files/tables/${(await leasedDelta(app)).table}` }),
  },
  {
    name: 'DELETE /v1/trees/{tree}/replication/leases/{leaseId}',
    needs: 'admin',
    request: async (app) => ({ method: 'DELETE', url: `/v1/trees/t/replication/leases/${(await leasedDelta(app)).leaseId}` }),
  },
  {
    // Compacted first, so the stream after seqno 0 ends at once (END WAL_GONE): inject waits for the end.
    name: 'GET /v1/trees/{tree}/replication/wal',
    needs: 'admin',
    request: async (app) => {
      await app.inject({ method: 'POST', url: '/v1/trees/t/compact', headers: bearer('admin') })
      return { method: 'GET', url: '/v1/trees/t/replication/wal?since=0' }
    },
  },
]

async function versionOf(app: FastifyInstance): Promise<number> {
  const res = await app.inject({ method: 'GET', url: '/v1/trees/t/replication/state', headers: bearer('admin') })
  return (res.json() as { versionId: number }).versionId
}

/** A delta of tree t that adds a table (a put and a flush since the version before). */
async function leasedDelta(app: FastifyInstance): Promise<{ table: number; leaseId: string }> {
  const since = await versionOf(app)
  await putKey(app, 't', 'flushed', 'v', bearer('admin'))
  await app.inject({ method: 'POST', url: '/v1/trees/t/flush', headers: bearer('admin') })
  const res = await app.inject({ method: 'GET', url: `/v1/trees/t/replication/delta?since=${since}`, headers: bearer('admin') })
  const delta = res.json() as { addTables: { id: number }[]; leaseId: string }
  return { table: delta.addTables[0]!.id, leaseId: delta.leaseId }
}

/** A fresh named checkpoint of tree t (made with the admin token); its id. */
async function namedCheckpoint(app: FastifyInstance): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/v1/trees/t/checkpoints', headers: bearer('admin') })
  return (res.json() as { id: string }).id
}

const RANK: Record<Needed, number> = { none: 0, read: 1, write: 2, admin: 3 }
const CALLERS: Caller[] = ['none', 'wrong', 'read', 'write', 'admin']

function headersFor(caller: Caller): Record<string, string> {
  if (caller === 'none') return {}
  if (caller === 'wrong') return { authorization: 'Bearer not-a-token-at-all-000000' }
  return bearer(caller)
}

t.test('role x route matrix', async (t) => {
  // On the file system: checkpoints and restores need it (src/http/routes/checkpoints.ts).
  const { app } = await makeApp(t, { tokens: TOKEN_ENTRIES, real: true })
  await createTree(t, app, 't', undefined, bearer('admin'))
  await createTree(t, app, 'm', { mergeOperator: 'counter' }, bearer('admin'))
  await putKey(app, 't', 'k', 'v', bearer('admin'))
  let n = 0
  for (const route of ROUTES) {
    for (const caller of CALLERS) {
      const spec = await route.request(app, n++)
      const res = await app.inject({ ...spec, payload: spec.payload as string, headers: { ...spec.headers, ...headersFor(caller) } })
      const label = `${route.name} as ${caller}`
      if (route.needs === 'none') {
        t.ok(res.statusCode >= 200 && res.statusCode < 300, `${label}: ${res.statusCode}`)
      } else if (caller === 'none' || caller === 'wrong') {
        assertError(t, res, 401, 'UNAUTHORIZED', label)
        t.match(res.headers['www-authenticate'], /^Bearer realm="strata"/, `${label}: challenge`)
      } else if (RANK[caller] < RANK[route.needs]) {
        assertError(t, res, 403, 'FORBIDDEN', label)
      } else {
        t.ok(res.statusCode >= 200 && res.statusCode < 300, `${label}: ${res.statusCode} ${res.body.slice(0, 120)}`)
      }
    }
  }
  t.equal(n, ROUTES.length * CALLERS.length)
})

t.test('every route of the app is in the matrix', async (t) => {
  const { app } = await makeApp(t, { tokens: TOKEN_ENTRIES })
  await app.ready()
  const covered = new Set(ROUTES.map((r) => r.name))
  for (const name of Object.keys(ROUTE_SCHEMAS)) t.ok(covered.has(name), `${name} is in the matrix`)
  for (const name of covered) {
    const [method, path] = name.split(' ') as [string, string]
    t.ok(app.hasRoute({ method: method as 'GET', url: path.replace(/\{(\w+)\}/g, ':$1') }), `route ${name} exists`)
  }
})

t.test('header forms', async (t) => {
  const { app } = await makeApp(t, { tokens: TOKEN_ENTRIES })
  const get = (authorization: string) => app.inject({ method: 'GET', url: '/v1/trees', headers: { authorization } })
  t.equal((await get(`bearer ${TOKENS.read}`)).statusCode, 200, 'the scheme is case-insensitive')
  t.equal((await get(`Bearer   ${TOKENS.read}  `)).statusCode, 200, 'extra spaces')
  for (const bad of [`Basic ${TOKENS.read}`, `Bearer`, `Bearer ${TOKENS.read}x`, `Bearer ${TOKENS.read.slice(0, -1)}`, `${TOKENS.read}`, `Bearer ${TOKENS.read} extra`]) {
    const res = await get(bad)
    assertError(t, res, 401, 'UNAUTHORIZED', bad.slice(0, 12))
    t.notMatch(res.body, TOKENS.read.slice(0, 12), 'the token is never echoed')
  }
  assertError(t, await app.inject({ method: 'GET', url: '/no/such/route' }), 404, 'ROUTE_NOT_FOUND', 'unknown routes answer 404 without auth')
})

t.test('no tokens configured: every route is open', async (t) => {
  const { app } = await makeApp(t)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/trees/open' })).statusCode, 201)
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/trees/open' })).statusCode, 204)
})

t.test('isLoopbackHost (server.ts refuses anything else without tokens)', async (t) => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) t.ok(isLoopbackHost(host), host)
  for (const host of ['0.0.0.0', '::', '[::]', '10.0.0.1', '192.168.1.1', 'example.com', '::ffff:10.0.0.1', '128.0.0.1', '', 'localhost.evil.com', '::2']) t.notOk(isLoopbackHost(host), host || '(empty)')
})
