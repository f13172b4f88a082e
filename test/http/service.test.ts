/**
 * Service routes (routes/service.ts): /healthz, /readyz (a tree that failed to open or that a
 * background failure made read-only => 503 naming it), /metrics' media type, no token needed
 * for any of them while /v1 needs one, and server.ts: the loopback rule, listen + graceful close.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import t from 'tap'
import { Agent, request } from 'undici'
import { FaultVfs, nodeVfs } from '../../src/engine/index.js'
import { buildServer } from '../../src/http/app.js'
import { readiness } from '../../src/http/routes/service.js'
import { ServeRefusedError, checkBindAllowed, startServer } from '../../src/http/server.js'
import { selfSignedCert, tempDir } from '../helpers/cli-process.js'

const TOKEN = 'service-test-token-0123456789'

function dataDir(): string {
  const dir = tempDir('strata-service-')
  t.teardown(dir.remove)
  return dir.path
}

t.test('/healthz answers 200 while running', async (t) => {
  const app = await buildServer({ dataDir: dataDir() })
  t.teardown(() => app.close())
  const response = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { status: 'ok' })
  t.match(response.headers['content-type'], /^application\/json/)
  const head = await app.inject({ method: 'HEAD', url: '/healthz' })
  t.equal(head.statusCode, 200, 'HEAD works too')
  t.equal(head.body, '')
})

t.test('/readyz: 200 with every tree open and writable', async (t) => {
  const app = await buildServer({ dataDir: dataDir() })
  t.teardown(() => app.close())
  t.same((await app.inject({ method: 'GET', url: '/readyz' })).json(), { status: 'ready', trees: 0, unavailable: [] }, 'no trees is ready')
  for (const name of ['a', 'b']) t.equal((await app.inject({ method: 'PUT', url: `/v1/trees/${name}` })).statusCode, 201)
  const response = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { status: 'ready', trees: 2, unavailable: [] })
})

t.test('/readyz: 503 naming a tree that failed to open, 200 again once it is dropped', async (t) => {
  const dir = dataDir()
  mkdirSync(join(dir, 'broken'))
  writeFileSync(join(dir, 'broken', 'OPTIONS.json'), 'this is not JSON')
  const app = await buildServer({ dataDir: dir })
  t.teardown(() => app.close())
  const response = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(response.statusCode, 503)
  t.same(response.json(), { status: 'not_ready', trees: 0, unavailable: [{ tree: 'broken', code: 'CORRUPTION' }] })
  t.notMatch(response.body, dir, 'no path in the answer')
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/trees/broken' })).statusCode, 204)
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
})

t.test('/readyz: 503 when a background failure made a tree read-only', async (t) => {
  const vfs = new FaultVfs(nodeVfs)
  const app = await buildServer({ dataDir: dataDir(), vfs })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'PUT', url: '/v1/trees/disk' })).statusCode, 201)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/trees/other' })).statusCode, 201)
  const put = await app.inject({ method: 'PUT', url: '/v1/trees/disk/keys/k', payload: Buffer.from('v'), headers: { 'content-type': 'application/octet-stream' } })
  t.equal(put.statusCode, 200)
  vfs.injectAlways({ op: 'create', path: /\.sst$/, errno: 'ENOSPC' })
  const flush = await app.inject({ method: 'POST', url: '/v1/trees/disk/flush' })
  t.ok(flush.statusCode >= 500, `the failed flush answers ${flush.statusCode}`)
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 503)
  t.same(ready.json(), { status: 'not_ready', trees: 1, unavailable: [{ tree: 'disk', code: 'IO' }] })
  const read = await app.inject({ method: 'GET', url: '/v1/trees/disk/keys/k' })
  t.equal(read.statusCode, 200, 'reads go on')
  vfs.clear()
})

t.test('readiness() reads the catalog only', async (t) => {
  const fake = {
    failures: () => [{ name: 'x', error: { code: 'LOCKED' } }],
    list: () => [
      { name: 'ok', tree: { stats: () => ({ backgroundError: null }) } },
      { name: 'degraded', tree: { stats: () => ({ backgroundError: { code: 'IO', message: 'disk full' } }) } },
      { name: 'closing', tree: { stats: () => { throw Object.assign(new Error('closed'), { code: 'CLOSED' }) } } },
    ],
  } as unknown as Parameters<typeof readiness>[0]
  t.same(readiness(fake), {
    ready: false,
    trees: 1,
    unavailable: [{ tree: 'x', code: 'LOCKED' }, { tree: 'degraded', code: 'IO' }, { tree: 'closing', code: 'CLOSED' }],
  })
})

t.test('service routes need no token; /v1 does', async (t) => {
  const app = await buildServer({ dataDir: dataDir(), tokens: [{ token: TOKEN, role: 'read' }] })
  t.teardown(() => app.close())
  for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
    t.equal((await app.inject({ method: 'GET', url })).statusCode, 200, `${url} without a token`)
  }
  const trees = await app.inject({ method: 'GET', url: '/v1/trees' })
  t.equal(trees.statusCode, 401)
  t.equal(trees.json().code, 'UNAUTHORIZED')
  const withToken = await app.inject({ method: 'GET', url: '/v1/trees', headers: { authorization: `Bearer ${TOKEN}` } })
  t.equal(withToken.statusCode, 200)
})

t.test('/metrics is Prometheus text', async (t) => {
  const app = await buildServer({ dataDir: dataDir() })
  t.teardown(() => app.close())
  const response = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  t.match(response.body, /^# HELP /m)
  t.match(response.body, /^# TYPE http_requests_total counter$/m)
})

t.test('server.ts: loopback rule', async (t) => {
  for (const host of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.1.2.3']) t.doesNotThrow(() => checkBindAllowed(host, undefined), `${host} without tokens`)
  for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
    t.throws(() => checkBindAllowed(host, undefined), ServeRefusedError, `${host} without tokens is refused`)
    t.throws(() => checkBindAllowed(host, []), ServeRefusedError, `${host} with an empty token list is refused`)
    t.doesNotThrow(() => checkBindAllowed(host, [{ token: TOKEN, role: 'admin' }]), `${host} with tokens`)
  }
  const dir = dataDir()
  await t.rejects(startServer({ dataDir: dir, host: '0.0.0.0', port: 0, signals: [] }), { code: 'INSECURE_BIND', message: /refusing to listen on 0\.0\.0\.0 without tokens/ })
})

t.test('server.ts: listens, answers, closes every tree', async (t) => {
  const dir = dataDir()
  const server = await startServer({ dataDir: dir, host: '127.0.0.1', port: 0, signals: [] })
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.equal((await fetch(`${server.url}/v1/trees/live`, { method: 'PUT' })).status, 201)
  t.equal((await fetch(`${server.url}/healthz`)).status, 200)
  await Promise.all([server.close(), server.close()])
  await server.closed
  await t.rejects(fetch(`${server.url}/healthz`), 'no longer listening')
  // The trees were closed and the data directory's lock released: it opens again.
  const again = await buildServer({ dataDir: dir })
  t.same((await again.inject({ method: 'GET', url: '/v1/trees' })).json().trees.map((x: { name: string }) => x.name), ['live'])
  await again.close()
})

const certDir = dataDir()
const pem = selfSignedCert(certDir)
const NO_OPENSSL = pem === undefined ? 'the openssl command is not available to make a test certificate' : false

t.test('server.ts: HTTPS with --tls-cert/--tls-key', { skip: NO_OPENSSL }, async (t) => {
  if (pem === undefined) return
  const dir = certDir
  const cert = readFileSync(pem.certPath)
  const server = await startServer({ dataDir: join(dir, 'data'), host: '127.0.0.1', port: 0, signals: [], tls: { cert, key: readFileSync(pem.keyPath) } })
  t.teardown(() => server.close())
  t.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/)
  const agent = new Agent({ connect: { ca: cert } })
  t.teardown(() => agent.close())
  const response = await request(`${server.url}/healthz`, { dispatcher: agent })
  t.equal(response.statusCode, 200, 'answers over TLS, verified against the certificate')
  t.same(await response.body.json(), { status: 'ok' })
  await t.rejects(fetch(`${server.url.replace('https:', 'http:')}/healthz`), 'plain HTTP is not served')
})

t.test('server.ts: a request still running after the grace period is cut, and close() completes', async (t) => {
  const dir = dataDir()
  const server = await startServer({ dataDir: dir, host: '127.0.0.1', port: 0, signals: [], shutdownGraceMs: 300 })
  t.equal((await fetch(`${server.url}/v1/trees/slow`, { method: 'PUT' })).status, 201)
  const body = new PassThrough()
  const outcome = request(`${server.url}/v1/trees/slow/keys/k`, {
    method: 'PUT', body, headers: { 'content-type': 'application/octet-stream', 'content-length': '1000' },
  }).then(() => 'answered', () => 'cut')
  body.write(Buffer.alloc(10))
  await new Promise((resolve) => setTimeout(resolve, 200))
  const started = Date.now()
  await server.close()
  const tookMs = Date.now() - started
  t.ok(tookMs >= 250 && tookMs < 10_000, `close() waited for the grace period, then completed (${tookMs} ms)`)
  t.equal(await outcome, 'cut', 'the stuck request was cut')
  body.destroy()
})
