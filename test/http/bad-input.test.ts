/**
 * Bad input never crashes the server and never answers 5xx: invalid JSON, wrong content types,
 * invalid base64, unknown op types, missing fields, wrong types (never coerced), negative or
 * non-numeric limits and seqnos, oversize bodies, hostile tree names (`..`, `%2e%2e`, `/`, 65
 * characters, `%FF`) and random garbage. Every answer is a 4xx in the error shape. Some cases
 * go over a real socket (undici), because app.inject() normalizes `%2e%2e` away.
 */
import t from 'tap'
import { Client } from 'undici'

import { StrataError, type ErrorCode } from '../../src/engine/index.js'
import { ERROR_REGISTRY, errorBody, fromEngineError, type HttpErrorCode } from '../../src/http/errors.js'
import { toHttpError } from '../../src/http/plugins/error-handler.js'
import { assertError, createTree, makeApp, prng, randomBytesFrom } from './helpers.js'

const json = { 'content-type': 'application/json' }

t.test('invalid JSON and wrong content types', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 't')
  for (const payload of ['{', '{"ops":', 'nope', '{"ops":[1,]}', '\u0000']) {
    assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/t/batch', payload, headers: json }), 400, 'INVALID_JSON', payload)
  }
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/t/batch', payload: '', headers: json }), 400, 'INVALID_JSON', 'empty')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/t/batch', payload: '{"__proto__":{"x":1},"ops":[]}', headers: json }), 400, 'INVALID_JSON', 'proto poisoning')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/t/batch', payload: 'ops', headers: { 'content-type': 'text/plain' } }), 400, 'VALIDATION_ERROR', 'text body is not an object')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/t/batch', payload: Buffer.from('{}'), headers: { 'content-type': 'application/octet-stream' } }), 415, 'UNSUPPORTED_MEDIA_TYPE')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/t/batch', payload: '<ops/>', headers: { 'content-type': 'application/xml' } }), 415, 'UNSUPPORTED_MEDIA_TYPE')
  assertError(t, await app.inject({ method: 'PUT', url: '/v1/trees/t/keys/k', payload: '{}', headers: json }), 415, 'UNSUPPORTED_MEDIA_TYPE')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/t/keys/k/merge', payload: 'x', headers: { 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE')
  assertError(t, await app.inject({ method: 'PUT', url: '/v1/trees/u', payload: Buffer.from('{}'), headers: { 'content-type': 'application/octet-stream' } }), 415, 'UNSUPPORTED_MEDIA_TYPE')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/t/batch' }), 400, 'VALIDATION_ERROR', 'no body')
})

t.test('wrong types are refused, never coerced; missing fields; unknown op types', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 't')
  const bodies: unknown[] = [
    { ops: [{ type: 'put', key: 5, value: 'v' }] },
    { ops: [{ type: 'put', key: 'k', value: 5 }] },
    { ops: [{ type: 'put', key: 'k', value: null }] },
    { ops: [{ type: 'put', key: ['k'], value: 'v' }] },
    { ops: [{ type: 'put', key: true, value: 'v' }] },
    { ops: [{ type: 'put', key: 'k' }] },
    { ops: [{ type: 'delete' }] },
    { ops: [{ type: 'merge', key: 'k' }] },
    { ops: [{ type: 'deleteRange', end: 'z' }] },
    { ops: [{ type: 'increment', key: 'k', value: '1' }] },
    { ops: [{ type: 5, key: 'k', value: '1' }] },
    { ops: [null] },
    { ops: [[]] },
    { ops: {} },
    { ops: [{ type: 'put', key: 'k', value: 'v' }], encoding: 'hex' },
    { ops: [{ type: 'put', key: 'k', value: 'v' }], extra: true },
    [],
    'ops',
    5,
  ]
  for (const body of bodies) {
    assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/t/batch', payload: JSON.stringify(body), headers: json }), 400, 'VALIDATION_ERROR', JSON.stringify(body))
  }
  for (const body of [{ start: 5, end: 'z' }, { prefix: 1 }, {}, { end: 'z' }, { prefix: 'a', extra: 1 }]) {
    assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/t/delete-range', payload: body }), 400, 'VALIDATION_ERROR', JSON.stringify(body))
  }
  t.equal((await app.inject({ method: 'GET', url: '/v1/trees/t/keys/k' })).statusCode, 404, 'nothing was written')
})

t.test('invalid base64', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 't')
  for (const key of ['%%%', 'QQ', 'QQ=', 'Q===', 'QUJD=', 'a b=', 'QUJD\n', '-_-_']) {
    assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/t/batch', payload: { encoding: 'base64', ops: [{ type: 'delete', key }] } }), 400, 'INVALID_ENCODING', JSON.stringify(key))
  }
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/t/delete-range', payload: { encoding: 'base64', prefix: '!!' } }), 400, 'INVALID_ENCODING')
  assertError(t, await app.inject({ method: 'GET', url: '/v1/trees/t/scan?encoding=base64&prefix=%25%25' }), 400, 'INVALID_ENCODING')
})

t.test('negative, fractional and non-numeric limits and seqnos', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 't')
  const urls = [
    '/v1/trees/t/scan?limit=-1', '/v1/trees/t/scan?limit=0', '/v1/trees/t/scan?limit=1e3', '/v1/trees/t/scan?limit=0x10',
    '/v1/trees/t/scan?limit=', '/v1/trees/t/scan?limit=99999999999999999999', '/v1/trees/t/scan?seqno=-1',
    '/v1/trees/t/scan?seqno=NaN', '/v1/trees/t/scan?seqno=1.0', '/v1/trees/t/keys/k?seqno=-5', '/v1/trees/t/keys/k?seqno=',
    '/v1/trees/t/keys/k?seqno=Infinity', '/v1/trees/t/keys/k?seqno=99999999999999999', '/v1/trees/t/snapshots/x1',
  ]
  for (const url of urls) {
    const res = await app.inject({ method: url.includes('/snapshots/') ? 'DELETE' : 'GET', url })
    assertError(t, res, 400, 'VALIDATION_ERROR', url)
  }
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/t/snapshots?ttl=-1' }), 400, 'VALIDATION_ERROR')
})

t.test('oversize bodies', async (t) => {
  const { app } = await makeApp(t, { bodyLimitBytes: 4096 })
  await createTree(t, app, 't')
  const big = { ops: Array.from({ length: 200 }, (_, i) => ({ type: 'put', key: `key-${i}`, value: 'x'.repeat(20) })) }
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/t/batch', payload: big }), 413, 'BODY_TOO_LARGE', 'json')
  assertError(t, await app.inject({ method: 'PUT', url: '/v1/trees/t/keys/k', payload: Buffer.alloc(5000), headers: { 'content-type': 'application/octet-stream' } }), 413, 'BODY_TOO_LARGE', 'raw')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/t/keys/k/merge', payload: Buffer.alloc(5000), headers: { 'content-type': 'application/octet-stream' } }), 413, 'BODY_TOO_LARGE', 'merge')
  assertError(t, await app.inject({ method: 'PUT', url: '/v1/trees/u', payload: { sync: 'none', pad: 'x'.repeat(5000) } }), 413, 'BODY_TOO_LARGE', 'options')
})

t.test('hostile tree names and paths (inject)', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 't')
  const cases: [string, string][] = [
    ['PUT', '/v1/trees/..'], ['PUT', '/v1/trees/.'], ['PUT', '/v1/trees/%2e%2e'], ['PUT', '/v1/trees/a%2Fb'], ['PUT', '/v1/trees/a/b'],
    ['PUT', `/v1/trees/${'a'.repeat(65)}`], ['PUT', `/v1/trees/${'a'.repeat(500)}`], ['GET', '/v1/trees/%FF'], ['GET', '/v1/trees/%FF/keys/k'],
    ['GET', '/v1/trees/../keys/k'], ['GET', '/v1/trees/t/../t/keys/k%FF'], ['DELETE', '/v1/trees/..%2F..%2Fetc'], ['GET', '/v1/trees/t%00'],
    ['GET', '/v1/trees//keys/k'], ['GET', '/v1/trees/t/keys/%'], ['POST', '/v1/trees/%2e/flush'], ['GET', '/v1/trees/%G0'],
  ]
  for (const [method, url] of cases) {
    const res = await app.inject({ method: method as 'GET', url })
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `${method} ${url}: ${res.statusCode} ${res.body}`)
    if (method !== 'HEAD') t.match(res.json(), { statusCode: res.statusCode, code: /^[A-Z_]+$/, error: String, message: String }, `${url}: shape`)
    t.notMatch(res.body, /%FF|\.\.%2F|etc/, `${url}: the url is not echoed`)
  }
  assertError(t, await app.inject({ method: 'PUT', url: `/v1/trees/${'a'.repeat(65)}` }), 400, 'INVALID_TREE_NAME')
  assertError(t, await app.inject({ method: 'GET', url: '/v1/trees/%FF' }), 400, 'INVALID_URL')
  assertError(t, await app.inject({ method: 'GET', url: `/v1/trees/${'a'.repeat(500)}` }), 414, 'URI_TOO_LONG')
  const list = (await app.inject({ method: 'GET', url: '/v1/trees' })).json() as { trees: { name: string }[] }
  t.same(list.trees.map((x) => x.name), ['t'], 'no tree was created')
})

t.test('hostile paths over a real socket', async (t) => {
  const { app } = await makeApp(t, { real: true })
  await createTree(t, app, 't')
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  // A Client sends `path` as given; fetch-style URLs would normalize %2e%2e (WHATWG URL).
  const client = new Client(base)
  t.teardown(() => client.close())
  const send = async (method: 'GET' | 'PUT' | 'DELETE', path: string, body?: string) => {
    const res = await client.request({ method, path, ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/octet-stream' } }) })
    return { statusCode: res.statusCode, text: await res.body.text() }
  }
  const paths = ['/v1/trees/%2e%2e', '/v1/trees/%2E%2E/keys/k', '/v1/trees/..', '/v1/trees/%2e', '/v1/trees/%FF', '/v1/trees/a%2Fb', '/v1/trees/%2e%2e%2f%2e%2e/keys/x']
  for (const path of paths) {
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const res = await send(method, path)
      t.ok(res.statusCode >= 400 && res.statusCode < 500, `${method} ${path}: ${res.statusCode} ${res.text}`)
      const body = JSON.parse(res.text) as Record<string, unknown>
      t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], `${method} ${path}: shape`)
    }
  }
  const dotdot = await send('PUT', '/v1/trees/%2e%2e')
  t.equal(dotdot.statusCode, 400)
  t.equal((JSON.parse(dotdot.text) as { code: string }).code, 'INVALID_TREE_NAME')
  // A key that is literally ".." is a key, not a path step.
  const put = await send('PUT', '/v1/trees/t/keys/%2e%2e', 'dots')
  t.equal(put.statusCode, 200, put.text)
  t.equal((await send('GET', '/v1/trees/t/keys/%2E%2E')).text, 'dots')
  t.equal((await send('GET', '/v1/trees/t/keys/..')).text, 'dots', 'a raw .. segment is the same key')
  // Percent-encoded bytes that are not UTF-8 in a key, over the wire.
  const ff = await send('PUT', '/v1/trees/t/keys/%FF%00%2F', 'ff')
  t.equal(ff.statusCode, 200, ff.text)
  t.equal((await send('GET', '/v1/trees/t/keys/%ff%00%2f')).text, 'ff')
  const list = JSON.parse((await send('GET', '/v1/trees')).text) as { trees: { name: string }[] }
  t.same(list.trees.map((x) => x.name), ['t'], 'no tree was created by any hostile path')
})

t.test('random garbage never answers 5xx', async (t) => {
  const seed = Number(process.env['STRATA_SEED'] ?? Date.now() % 1_000_000)
  t.comment(`seed ${seed}`)
  const next = prng(seed)
  const { app } = await makeApp(t)
  await createTree(t, app, 't')
  const methods = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'] as const
  const prefixes = ['/v1/trees/t/batch', '/v1/trees/t/delete-range', '/v1/trees/t/scan?', '/v1/trees/t/keys/', '/v1/trees/', '/v1/trees/t/snapshots/', '/v1/']
  const types = ['application/json', 'application/octet-stream', 'text/plain', undefined]
  let fives = 0
  for (let i = 0; i < 200; i++) {
    const method = methods[Math.floor(next() * methods.length)]!
    const garbage = [...randomBytesFrom(next, Math.floor(next() * 12))].map((b) => (next() < 0.5 ? `%${b.toString(16).padStart(2, '0')}` : String.fromCharCode(33 + (b % 94)))).join('').replace(/[#]/g, '')
    const url = prefixes[Math.floor(next() * prefixes.length)]! + garbage
    const type = types[Math.floor(next() * types.length)]
    const body = method === 'GET' || method === 'HEAD' ? undefined : next() < 0.5 ? randomBytesFrom(next, Math.floor(next() * 64)) : JSON.stringify({ ops: [{ type: 'put', key: garbage, value: garbage }] })
    const res = await app.inject({ method, url, ...(body === undefined ? {} : { payload: body }), headers: type === undefined ? {} : { 'content-type': type } })
    if (res.statusCode >= 500) {
      fives++
      t.fail(`seed ${seed}: ${method} ${url} -> ${res.statusCode} ${res.body}`)
    }
  }
  t.equal(fives, 0, `no 5xx in 200 random requests (seed ${seed})`)
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'still serving')
})

t.test('the error registry and its mappings', async (t) => {
  for (const [code, entry] of Object.entries(ERROR_REGISTRY)) {
    t.ok(entry.statusCode >= 400 && entry.statusCode < 600, `${code} status`)
    t.ok(entry.description.length > 10, `${code} is described`)
    const body = errorBody(code as HttpErrorCode, 'm')
    t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'])
    t.equal(body.statusCode, entry.statusCode)
  }
  const engine: [string, string, number][] = [
    ['INVALID_ARGUMENT', 'INVALID_ARGUMENT', 400], ['INVALID_OPERAND', 'INVALID_OPERAND', 400], ['NO_MERGE_OPERATOR', 'NO_MERGE_OPERATOR', 400],
    ['SEQNO_UNAVAILABLE', 'SEQNO_UNAVAILABLE', 410], ['READ_ONLY', 'READ_ONLY', 503], ['CLOSED', 'CLOSED', 503], ['LOCKED', 'LOCKED', 503],
    ['CORRUPTION', 'CORRUPTION', 500], ['IO', 'IO', 500], ['WRONG_KEY', 'INTERNAL', 500], ['UNSUPPORTED', 'INTERNAL', 500], ['MERGE_OPERATOR_MISMATCH', 'INTERNAL', 500],
  ]
  for (const [from, to, status] of engine) {
    const mapped = fromEngineError(new StrataError(from as ErrorCode, `engine message about 000001.sst`))!
    t.equal(mapped.code, to, from)
    t.equal(mapped.statusCode, status, from)
    if (status >= 500) t.notMatch(mapped.message, /000001/, `${from}: fixed message`)
  }
  t.equal(fromEngineError(new Error('x')), undefined)
  const fake = { routeOptions: { config: {} } } as never
  t.equal(toHttpError(Object.assign(new Error('client timeout'), { statusCode: 408 }), fake).code, 'BAD_REQUEST', 'other 4xx')
  t.equal(toHttpError({ code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', statusCode: 400 }, fake).code, 'BAD_REQUEST')
  t.equal(toHttpError(new TypeError('boom /etc/passwd'), fake).message, 'internal server error')
})
