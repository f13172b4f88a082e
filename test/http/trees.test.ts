/**
 * Tree routes: list, create (options persisted, supported vs unsupported vs invalid), stats,
 * drop (files removed, a new treeId on re-create), flush, compact, and the catalog surviving a
 * restart of the app on the same data directory.
 */
import t from 'tap'

import { ErrorCode, FaultVfs, MemVfs, StrataError } from '../../src/engine/index.js'
import { assertError, createTree, makeApp, putKey } from './helpers.js'

t.test('create, list, stats, drop', async (t) => {
  const { app } = await makeApp(t)
  const empty = await app.inject({ method: 'GET', url: '/v1/trees' })
  t.same(empty.json(), { trees: [], unavailable: [] })
  const created = await app.inject({ method: 'PUT', url: '/v1/trees/alpha', payload: { compression: 'zstd', mergeOperator: 'append', filterBitsPerKey: 12, sync: 'always' } })
  t.equal(created.statusCode, 201, created.body)
  const stats = created.json() as Record<string, unknown>
  t.equal(stats['name'], 'alpha')
  t.type(stats['treeId'], 'string')
  t.equal(stats['seqno'], 0)
  t.ok(Array.isArray(stats['levels']))
  t.match(stats['options'], { compression: 'zstd', mergeOperator: 'append', filterBitsPerKey: 12, sync: 'always' })
  assertError(t, await app.inject({ method: 'PUT', url: '/v1/trees/alpha' }), 409, 'TREE_EXISTS')
  await createTree(t, app, 'beta')
  await putKey(app, 'beta', 'k', 'v')
  const list = (await app.inject({ method: 'GET', url: '/v1/trees' })).json() as { trees: { name: string; seqno: number }[] }
  t.same(list.trees.map((x) => [x.name, x.seqno]), [['alpha', 0], ['beta', 1]])
  const got = await app.inject({ method: 'GET', url: '/v1/trees/beta' })
  t.equal(got.statusCode, 200)
  t.match(got.json(), { name: 'beta', seqno: 1, options: { compression: 'none', mergeOperator: null, sync: 'none' } })
  const drop = await app.inject({ method: 'DELETE', url: '/v1/trees/alpha' })
  t.equal(drop.statusCode, 204)
  t.equal(drop.body, '')
  assertError(t, await app.inject({ method: 'GET', url: '/v1/trees/alpha' }), 404, 'TREE_NOT_FOUND')
  assertError(t, await app.inject({ method: 'DELETE', url: '/v1/trees/alpha' }), 404, 'TREE_NOT_FOUND')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/alpha/flush' }), 404, 'TREE_NOT_FOUND')
})

t.test('an empty body, with or without a JSON content type, means no options', async (t) => {
  const { app } = await makeApp(t)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/trees/a' })).statusCode, 201)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/trees/b', headers: { 'content-type': 'application/json' } })).statusCode, 201)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/trees/c', payload: {} })).statusCode, 201)
})

t.test('options: unsupported, invalid, unknown', async (t) => {
  const { app } = await makeApp(t)
  for (const options of [{ compression: 'lz4' }, { zstdDictionary: true }, { encryption: true }, { blobThresholdBytes: 1024 }, { compaction: 'tiered' }, { compaction: 'fifo' }]) {
    assertError(t, await app.inject({ method: 'PUT', url: '/v1/trees/x', payload: options }), 400, 'UNSUPPORTED_OPTION', JSON.stringify(options))
  }
  for (const options of [{ compression: 'snappy' }, { filterBitsPerKey: 99 }, { filterBitsPerKey: '10' }, { sync: 'sometimes' }, { mergeOperator: 'sum' }, { zstdDictionary: 'yes' }, { blobThresholdBytes: -1 }]) {
    assertError(t, await app.inject({ method: 'PUT', url: '/v1/trees/x', payload: options }), 400, 'INVALID_OPTION', JSON.stringify(options))
  }
  const unknown = await app.inject({ method: 'PUT', url: '/v1/trees/x', payload: { colour: 'blue' } })
  assertError(t, unknown, 400, 'INVALID_OPTION')
  t.match(unknown.json(), { message: /colour/ })
  // The defaults of the unsupported options are accepted.
  const ok = await app.inject({ method: 'PUT', url: '/v1/trees/x', payload: { zstdDictionary: false, encryption: false, blobThresholdBytes: 0, compaction: 'leveled' } })
  t.equal(ok.statusCode, 201, ok.body)
  assertError(t, await app.inject({ method: 'PUT', url: '/v1/trees/y', payload: '[1,2]', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_OPTION', 'an array')
})

t.test('tree names', async (t) => {
  const { app } = await makeApp(t)
  for (const name of ['a', 'A9', 'x.y-z_1', 'a'.repeat(64)]) t.equal((await app.inject({ method: 'PUT', url: `/v1/trees/${name}` })).statusCode, 201, name)
  for (const name of ['-a', '_a', '.a', 'a'.repeat(65), 'a%20b', 'a%2Fb', 'a!', '%C3%A9']) {
    assertError(t, await app.inject({ method: 'PUT', url: `/v1/trees/${name}` }), 400, 'INVALID_TREE_NAME', name)
    assertError(t, await app.inject({ method: 'GET', url: `/v1/trees/${name}` }), 400, 'INVALID_TREE_NAME', name)
  }
})

t.test('flush and compact answer the versionId', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'fc')
  for (let i = 0; i < 20; i++) await putKey(app, 'fc', `k${i}`, `v${i}`)
  const flush = await app.inject({ method: 'POST', url: '/v1/trees/fc/flush' })
  t.equal(flush.statusCode, 200)
  const v1 = (flush.json() as { versionId: number }).versionId
  t.type(v1, 'number')
  const statsAfterFlush = (await app.inject({ method: 'GET', url: '/v1/trees/fc' })).json() as { tables: number; flushes: number }
  t.ok(statsAfterFlush.tables >= 1, 'a table after the flush')
  await putKey(app, 'fc', 'k0', 'new')
  const compact = await app.inject({ method: 'POST', url: '/v1/trees/fc/compact' })
  t.equal(compact.statusCode, 200)
  t.ok((compact.json() as { versionId: number }).versionId > v1)
  const stats = (await app.inject({ method: 'GET', url: '/v1/trees/fc' })).json() as { levels: { level: number; tables: number }[] }
  t.equal(stats.levels.filter((l) => l.tables > 0).length, 1, 'one level after a major compaction')
  t.equal((await app.inject({ method: 'GET', url: '/v1/trees/fc/keys/k0' })).body, 'new')
})

t.test('trees and their options survive a restart; a dropped name gets a new treeId', async (t) => {
  const vfs = new MemVfs()
  const first = await makeApp(t, { vfs })
  await createTree(t, first.app, 'counts', { mergeOperator: 'counter', compression: 'zstd' })
  const one = Buffer.alloc(8)
  one.writeBigInt64LE(1n)
  const merge = await first.app.inject({ method: 'POST', url: '/v1/trees/counts/keys/c/merge', payload: one, headers: { 'content-type': 'application/octet-stream' } })
  t.equal(merge.statusCode, 200)
  const id1 = ((await first.app.inject({ method: 'GET', url: '/v1/trees/counts' })).json() as { treeId: string }).treeId
  await first.app.close()

  const second = await makeApp(t, { vfs })
  const stats = (await second.app.inject({ method: 'GET', url: '/v1/trees/counts' })).json() as { treeId: string; options: { mergeOperator: string; compression: string } }
  t.equal(stats.treeId, id1, 'same tree')
  t.match(stats.options, { mergeOperator: 'counter', compression: 'zstd' })
  const again = await second.app.inject({ method: 'POST', url: '/v1/trees/counts/keys/c/merge', payload: one, headers: { 'content-type': 'application/octet-stream' } })
  t.equal(again.statusCode, 200, 'the merge operator came back with the tree')
  t.equal((await second.app.inject({ method: 'GET', url: '/v1/trees/counts/keys/c' })).rawPayload.readBigInt64LE(0), 2n)
  t.equal((await second.app.inject({ method: 'DELETE', url: '/v1/trees/counts' })).statusCode, 204)
  t.notOk(await vfs.exists('/data/counts'), 'the directory is removed')
  t.same((await vfs.list('/data')).filter((n) => !n.startsWith('.lock')), [], 'nothing left behind')
  await createTree(t, second.app, 'counts')
  const id2 = ((await second.app.inject({ method: 'GET', url: '/v1/trees/counts' })).json() as { treeId: string }).treeId
  t.not(id2, id1, 'a new treeId')
  t.equal((await second.app.inject({ method: 'GET', url: '/v1/trees/counts/keys/c' })).statusCode, 404, 'no old data')
})

t.test('a tree that fails to open is listed as unavailable and can be dropped', async (t) => {
  const vfs = new MemVfs()
  await vfs.mkdirp('/data/broken')
  const bad = await vfs.create('/data/broken/OPTIONS.json')
  bad.append(Buffer.from('{"formatVersion":1,"options":'))
  await bad.sync()
  await bad.close()
  const { app } = await makeApp(t, { vfs })
  const list = (await app.inject({ method: 'GET', url: '/v1/trees' })).json()
  t.same(list, { trees: [], unavailable: [{ name: 'broken', code: 'CORRUPTION' }] })
  assertError(t, await app.inject({ method: 'GET', url: '/v1/trees/broken' }), 503, 'TREE_UNAVAILABLE')
  assertError(t, await app.inject({ method: 'PUT', url: '/v1/trees/broken' }), 409, 'TREE_EXISTS')
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/trees/broken' })).statusCode, 204)
  t.same((await app.inject({ method: 'GET', url: '/v1/trees' })).json(), { trees: [], unavailable: [] })
})

t.test('requests to a dropped tree, and a real directory', async (t) => {
  const { app, dataDir } = await makeApp(t, { real: true })
  await createTree(t, app, 'real')
  await putKey(app, 'real', 'k', 'v')
  t.equal((await app.inject({ method: 'GET', url: '/v1/trees/real/keys/k' })).body, 'v')
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/trees/real' })).statusCode, 204)
  assertError(t, await app.inject({ method: 'GET', url: '/v1/trees/real/keys/k' }), 404, 'TREE_NOT_FOUND')
  t.ok(dataDir.length > 0)
})

t.test('engine failures answer 5xx with fixed messages (no file names, no stack)', async (t) => {
  const fault = new FaultVfs(new MemVfs())
  const { app } = await makeApp(t, { vfs: fault })
  await createTree(t, app, 'f')
  await putKey(app, 'f', 'k', 'v')
  fault.injectAlways({ op: 'append', path: /\.log$/ })
  const failed = await app.inject({ method: 'PUT', url: '/v1/trees/f/keys/k2', payload: Buffer.from('v'), headers: { 'content-type': 'application/octet-stream' } })
  t.ok(failed.statusCode === 500 || failed.statusCode === 503, `${failed.statusCode} ${failed.body}`)
  t.notMatch(failed.body, /\.log|injected|EIO/, 'no file name or cause in the answer')
  fault.clear()
  const readOnly = await app.inject({ method: 'PUT', url: '/v1/trees/f/keys/k3', payload: Buffer.from('v'), headers: { 'content-type': 'application/octet-stream' } })
  assertError(t, readOnly, 503, 'READ_ONLY', 'after a WAL failure the tree is read-only')
  t.equal((await app.inject({ method: 'GET', url: '/v1/trees/f/keys/k' })).body, 'v', 'reads still work')
  const list = (await app.inject({ method: 'GET', url: '/v1/trees' })).json() as { trees: { readOnly: boolean }[] }
  t.equal(list.trees[0]!.readOnly, true)
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/f/flush' }), 503, 'READ_ONLY')
})

t.test('corrupt table bytes: the tree is unavailable, named by code only', async (t) => {
  const vfs = new MemVfs()
  const first = await makeApp(t, { vfs })
  await createTree(t, first.app, 'c')
  await putKey(first.app, 'c', 'key', 'x'.repeat(200))
  t.equal((await first.app.inject({ method: 'POST', url: '/v1/trees/c/flush' })).statusCode, 200)
  await first.app.close()
  const table = (await vfs.list('/data/c')).find((n) => n.endsWith('.sst'))!
  const f = await vfs.openReadable(`/data/c/${table}`)
  const bytes = f.readAt(0, f.sizeBytes)
  await f.close()
  bytes[20] = bytes[20]! ^ 0xff
  const w = await vfs.create(`/data/c/${table}`)
  w.append(bytes)
  await w.sync()
  await w.close()
  const { app } = await makeApp(t, { vfs })
  const res = await app.inject({ method: 'GET', url: '/v1/trees/c/keys/key' })
  assertError(t, res, 503, 'TREE_UNAVAILABLE')
  t.notMatch(res.body, /\.sst|offset/, 'no file name or offset in the answer')
  t.same((await app.inject({ method: 'GET', url: '/v1/trees' })).json(), { trees: [], unavailable: [{ name: 'c', code: 'CORRUPTION' }] })
})

t.test('engine CORRUPTION and IO during a request answer 500 with fixed messages', async (t) => {
  const { app } = await makeApp(t)
  app.get('/v1/corrupt', { config: { role: 'none' } }, async () => {
    throw new StrataError(ErrorCode.CORRUPTION, 'corruption in 000012.sst at offset 20: checksum mismatch', { file: '000012.sst', offset: 20 })
  })
  app.get('/v1/io', { config: { role: 'none' } }, async () => {
    throw new StrataError(ErrorCode.IO, 'write 000003.log failed: ENOSPC', { file: '000003.log' })
  })
  const corrupt = await app.inject({ method: 'GET', url: '/v1/corrupt' })
  assertError(t, corrupt, 500, 'CORRUPTION')
  t.notMatch(corrupt.body, /000012|offset/)
  const io = await app.inject({ method: 'GET', url: '/v1/io' })
  assertError(t, io, 500, 'IO')
  t.notMatch(io.body, /000003|ENOSPC/)
})

t.test('an unexpected error is 500 INTERNAL with a fixed message', async (t) => {
  const { app } = await makeApp(t)
  app.get('/v1/boom', { config: { role: 'none' } }, async () => {
    throw new Error('ENOENT: /var/lib/strata/secret-key-bytes at Object.<anonymous>')
  })
  const res = await app.inject({ method: 'GET', url: '/v1/boom' })
  assertError(t, res, 500, 'INTERNAL')
  t.equal((res.json() as { message: string }).message, 'internal server error')
})
