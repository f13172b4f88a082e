/**
 * Single-key routes: PUT/GET/HEAD/DELETE and merge, raw values, binary keys in the path
 * (%00, %FF, %2F), X-Seqno and reads as of a seqno, and their error codes.
 */
import t from 'tap'
import { Client } from 'undici'

import { assertError, createTree, encodeKey, keyUrl, makeApp, prng, putKey, randomBytesFrom } from './helpers.js'

t.test('put, get, head, delete round trip with X-Seqno', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'kv')
  const s1 = await putKey(app, 'kv', 'hello', 'world')
  t.ok(s1 >= 1, 'a seqno')
  const get = await app.inject({ method: 'GET', url: keyUrl('kv', 'hello') })
  t.equal(get.statusCode, 200)
  t.equal(get.headers['content-type'], 'application/octet-stream')
  t.equal(get.headers['x-seqno'], String(s1))
  t.equal(get.body, 'world')
  const head = await app.inject({ method: 'HEAD', url: keyUrl('kv', 'hello') })
  t.equal(head.statusCode, 200)
  t.equal(head.headers['x-seqno'], String(s1))
  t.equal(head.body, '')
  const del = await app.inject({ method: 'DELETE', url: keyUrl('kv', 'hello') })
  t.equal(del.statusCode, 200)
  const s2 = (del.json() as { seqno: number }).seqno
  t.ok(s2 > s1)
  assertError(t, await app.inject({ method: 'GET', url: keyUrl('kv', 'hello') }), 404, 'KEY_NOT_FOUND')
  const headMissing = await app.inject({ method: 'HEAD', url: keyUrl('kv', 'hello') })
  t.equal(headMissing.statusCode, 404)
  t.equal(headMissing.headers['x-seqno'], String(s2))
  const again = await app.inject({ method: 'DELETE', url: keyUrl('kv', 'never-there') })
  t.equal(again.statusCode, 200, 'deleting a missing key is not an error')
})

t.test('an empty body is an empty value; values are raw bytes', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'kv')
  const empty = await app.inject({ method: 'PUT', url: keyUrl('kv', 'e') })
  t.equal(empty.statusCode, 200, empty.body)
  const got = await app.inject({ method: 'GET', url: keyUrl('kv', 'e') })
  t.equal(got.statusCode, 200)
  t.equal(got.rawPayload.length, 0)
  const binary = Buffer.from([0, 255, 10, 13, 0x80, 0xc3, 0x28])
  await putKey(app, 'kv', 'b', binary)
  t.same((await app.inject({ method: 'GET', url: keyUrl('kv', 'b') })).rawPayload, binary)
})

t.test('binary keys %00 %FF %2F round trip, and do not split the route', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'bin')
  const keys = [Buffer.from([0]), Buffer.from([0xff]), Buffer.from('a/b'), Buffer.from('/'), Buffer.from([0xff, 0x2f, 0x00]), Buffer.from('merge'), Buffer.from('%'), Buffer.from('a?b#c'), Buffer.from('ключ')]
  for (const [i, key] of keys.entries()) await putKey(app, 'bin', key, `v${i}`)
  for (const [i, key] of keys.entries()) {
    const res = await app.inject({ method: 'GET', url: keyUrl('bin', key) })
    t.equal(res.statusCode, 200, `key ${key.toString('hex')}`)
    t.equal(res.body, `v${i}`)
  }
  // %2F is a byte of the key: /keys/a%2Fb is the key "a/b", /keys/a/b is no route.
  t.equal((await app.inject({ method: 'GET', url: '/v1/trees/bin/keys/a%2Fb' })).body, 'v2')
  t.equal((await app.inject({ method: 'GET', url: '/v1/trees/bin/keys/a%2fb' })).body, 'v2', 'lowercase hex')
  assertError(t, await app.inject({ method: 'GET', url: '/v1/trees/bin/keys/a/b' }), 404, 'ROUTE_NOT_FOUND')
  // Unreserved characters may be sent raw or encoded: the same key.
  await putKey(app, 'bin', 'plain-key_1.~', 'p')
  t.equal((await app.inject({ method: 'GET', url: '/v1/trees/bin/keys/plain%2Dkey%5F1%2E%7E' })).body, 'p')
  // The scan sees the exact bytes.
  const scan = await app.inject({ method: 'GET', url: '/v1/trees/bin/scan?encoding=base64&limit=100' })
  const seen = (scan.json() as { items: { key: string }[] }).items.map((i) => Buffer.from(i.key, 'base64').toString('hex'))
  for (const key of keys) t.ok(seen.includes(key.toString('hex')), `scan has ${key.toString('hex')}`)
})

t.test('randomized binary keys round trip through the path', async (t) => {
  const seed = Number(process.env['STRATA_SEED'] ?? Date.now() % 1_000_000)
  t.comment(`seed ${seed}`)
  const next = prng(seed)
  const { app } = await makeApp(t)
  await createTree(t, app, 'rnd')
  const model = new Map<string, Buffer>()
  for (let i = 0; i < 200; i++) {
    const key = randomBytesFrom(next, 1 + Math.floor(next() * 40))
    const value = randomBytesFrom(next, Math.floor(next() * 300))
    // A path segment "." or ".." (raw or as %2E: WHATWG URL parsers, light-my-request's and
    // undici's included, remove it as a dot-segment) cannot name a key in a URL; such keys are
    // reached through batch and scan. Seed 76607 drew the key ".".
    if (key.every((b) => b === 0x2e) && key.length <= 2) continue
    await putKey(app, 'rnd', key, value)
    model.set(key.toString('hex'), value)
  }
  for (const [hex, value] of model) {
    const res = await app.inject({ method: 'GET', url: keyUrl('rnd', Buffer.from(hex, 'hex')) })
    if (res.statusCode !== 200 || !res.rawPayload.equals(value)) {
      t.fail(`seed ${seed}: key ${hex}`)
      return
    }
  }
  t.pass(`${model.size} keys round trip (seed ${seed})`)
})

t.test('key length bounds', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'kv')
  const longest = Buffer.alloc(65_535, 0x61)
  await putKey(app, 'kv', longest, 'max')
  t.equal((await app.inject({ method: 'GET', url: keyUrl('kv', longest) })).body, 'max')
  const tooLong = Buffer.alloc(65_536, 0x61)
  assertError(t, await app.inject({ method: 'PUT', url: keyUrl('kv', tooLong), payload: Buffer.from('x'), headers: { 'content-type': 'application/octet-stream' } }), 400, 'KEY_TOO_LARGE')
  assertError(t, await app.inject({ method: 'GET', url: '/v1/trees/kv/keys/' }), 400, 'INVALID_KEY', 'empty key')
  assertError(t, await app.inject({ method: 'GET', url: '/v1/trees/kv/keys/%G1' }), 400, 'INVALID_KEY', 'bad percent')
  assertError(t, await app.inject({ method: 'GET', url: '/v1/trees/kv/keys/abc%' }), 400, 'INVALID_KEY', 'truncated percent')
})

t.test('reads as of a seqno', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'kv')
  const s1 = await putKey(app, 'kv', 'k', 'one')
  const s2 = await putKey(app, 'kv', 'k', 'two')
  const at1 = await app.inject({ method: 'GET', url: `${keyUrl('kv', 'k')}?seqno=${s1}` })
  t.equal(at1.body, 'one', 'the read at N includes the write that answered N')
  t.equal(at1.headers['x-seqno'], String(s1))
  t.equal((await app.inject({ method: 'GET', url: `${keyUrl('kv', 'k')}?seqno=${s2}` })).body, 'two')
  assertError(t, await app.inject({ method: 'GET', url: `${keyUrl('kv', 'k')}?seqno=${s1 - 1}` }), 404, 'KEY_NOT_FOUND', 'before the first write')
  assertError(t, await app.inject({ method: 'GET', url: `${keyUrl('kv', 'k')}?seqno=${s2 + 5}` }), 400, 'INVALID_ARGUMENT', 'ahead of the tree')
  assertError(t, await app.inject({ method: 'GET', url: `${keyUrl('kv', 'k')}?seqno=-1` }), 400, 'VALIDATION_ERROR')
  assertError(t, await app.inject({ method: 'GET', url: `${keyUrl('kv', 'k')}?seqno=abc` }), 400, 'VALIDATION_ERROR')
  assertError(t, await app.inject({ method: 'GET', url: `${keyUrl('kv', 'k')}?seqno=1&seqno=2` }), 400, 'VALIDATION_ERROR', 'repeated')
  // After a compaction, history below it is gone unless pinned.
  t.equal((await app.inject({ method: 'POST', url: '/v1/trees/kv/compact' })).statusCode, 200)
  await putKey(app, 'kv', 'k', 'three')
  assertError(t, await app.inject({ method: 'GET', url: `${keyUrl('kv', 'k')}?seqno=${s1}` }), 410, 'SEQNO_UNAVAILABLE')
})

t.test('merge with the tree operator, and its errors', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'counts', { mergeOperator: 'counter' })
  await createTree(t, app, 'plain')
  const operand = (n: bigint) => {
    const b = Buffer.alloc(8)
    b.writeBigInt64LE(n)
    return b
  }
  for (const n of [5n, -2n, 10n]) {
    const res = await app.inject({ method: 'POST', url: keyUrl('counts', 'c', '/merge'), payload: operand(n), headers: { 'content-type': 'application/octet-stream' } })
    t.equal(res.statusCode, 200, res.body)
  }
  const got = await app.inject({ method: 'GET', url: keyUrl('counts', 'c') })
  t.equal(got.rawPayload.readBigInt64LE(0), 13n)
  // A key named "merge" is a key, and a key ending in /merge is the merge route.
  await putKey(app, 'plain', 'merge', 'not a route')
  t.equal((await app.inject({ method: 'GET', url: '/v1/trees/plain/keys/merge' })).body, 'not a route')
  assertError(t, await app.inject({ method: 'POST', url: keyUrl('counts', 'c', '/merge'), payload: Buffer.from('abc'), headers: { 'content-type': 'application/octet-stream' } }), 400, 'INVALID_OPERAND')
  assertError(t, await app.inject({ method: 'POST', url: keyUrl('plain', 'c', '/merge'), payload: operand(1n), headers: { 'content-type': 'application/octet-stream' } }), 400, 'NO_MERGE_OPERATOR')
})

t.test('content types and body limits', async (t) => {
  const { app } = await makeApp(t, { bodyLimitBytes: 1024 })
  await createTree(t, app, 'kv')
  assertError(t, await app.inject({ method: 'PUT', url: keyUrl('kv', 'k'), payload: { a: 1 } }), 415, 'UNSUPPORTED_MEDIA_TYPE', 'json value')
  assertError(t, await app.inject({ method: 'PUT', url: keyUrl('kv', 'k'), payload: 'text', headers: { 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE', 'text value')
  assertError(t, await app.inject({ method: 'PUT', url: keyUrl('kv', 'k'), payload: Buffer.alloc(2048), headers: { 'content-type': 'application/octet-stream' } }), 413, 'BODY_TOO_LARGE')
  const fits = await app.inject({ method: 'PUT', url: keyUrl('kv', 'k'), payload: Buffer.alloc(1024, 1), headers: { 'content-type': 'application/octet-stream' } })
  t.equal(fits.statusCode, 200, 'a body at the limit fits')
})

t.test('unknown trees', async (t) => {
  const { app } = await makeApp(t)
  assertError(t, await app.inject({ method: 'GET', url: keyUrl('nope', 'k') }), 404, 'TREE_NOT_FOUND')
  assertError(t, await app.inject({ method: 'PUT', url: keyUrl('nope', 'k'), payload: Buffer.from('v'), headers: { 'content-type': 'application/octet-stream' } }), 404, 'TREE_NOT_FOUND')
  assertError(t, await app.inject({ method: 'GET', url: keyUrl('bad..name!', 'k') }), 400, 'INVALID_TREE_NAME')
  t.equal(encodeKey(Buffer.from([0x2f])), '%2F')
})

t.test('the longest key and a long cursor fit in a real request head', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'kv')
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const client = new Client(base)
  t.teardown(() => client.close())
  const longest = Buffer.alloc(65_535, 0xff) // 196,605 characters percent-encoded
  const put = await client.request({ method: 'PUT', path: keyUrl('kv', longest), body: 'v', headers: { 'content-type': 'application/octet-stream' } })
  t.equal(put.statusCode, 200, await put.body.text())
  const get = await client.request({ method: 'GET', path: keyUrl('kv', longest) })
  t.equal(await get.body.text(), 'v')
  await putKey(app, 'kv', Buffer.alloc(65_535, 0xfe), 'w')
  const first = await client.request({ method: 'GET', path: '/v1/trees/kv/scan?limit=1&encoding=base64' })
  const page = (await first.body.json()) as { cursor: string }
  t.ok(page.cursor.length > 87_000, 'a cursor carrying a 65,535-byte key')
  const second = await client.request({ method: 'GET', path: `/v1/trees/kv/scan?cursor=${page.cursor}` })
  t.equal(second.statusCode, 200)
  t.equal(((await second.body.json()) as { items: unknown[] }).items.length, 1)
})
