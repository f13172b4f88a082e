// POST /v1/trees/{tree}/restore (src/http/routes/restore.ts) on the real file system:
// - multipart (field `file`) and raw bodies, tar and tar.zst: 201 with the stats of a tree with
//   a new treeId, its data and options (a merge operator) intact;
// - 409 TREE_EXISTS, the multipart shape (field name, no file), 415, --max-restore-bytes;
// - the hostile-archive corpus of test/backup/archive-corpus.ts, sent both ways: every one is
//   400 INVALID_ARCHIVE in the error shape, with nothing created in the data directory, nothing
//   written next to it or at an absolute path, and the catalog unchanged.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'

import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'

import { buildServer } from '../../src/http/app.js'
import { hostileCorpus, makeSourceTree, type SourceTree } from '../backup/archive-corpus.js'
import { assertError, createTree } from './helpers.js'

const BOUNDARY = 'strata-test-boundary-7f3a'

function multipart(archive: Buffer, field = 'file'): { payload: Buffer; headers: Record<string, string> } {
  const head = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${field}"; filename="backup.tar"\r\nContent-Type: application/octet-stream\r\n\r\n`)
  const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`)
  return { payload: Buffer.concat([head, archive, tail]), headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } }
}

function raw(archive: Buffer, type = 'application/x-tar'): { payload: Buffer; headers: Record<string, string> } {
  return { payload: archive, headers: { 'content-type': type } }
}

let src: SourceTree
t.before(async () => {
  src = await makeSourceTree(400)
})
t.teardown(() => src.remove())

async function server(t: Test, options: { maxRestoreBytes?: number } = {}): Promise<{ app: FastifyInstance; parent: string; dataDir: string }> {
  const parent = mkdtempSync(join(tmpdir(), 'strata-restore-http-'))
  t.teardown(() => rmSync(parent, { recursive: true, force: true }))
  const dataDir = join(parent, 'data')
  const app = await buildServer({ dataDir, sync: 'none', ...options })
  t.teardown(() => app.close())
  await app.ready()
  return { app, parent, dataDir }
}

t.test('restores tar and tar.zst, multipart and raw: a new tree with a new treeId', async (t) => {
  const { app, dataDir } = await server(t)
  const cases = [
    ['multipart-tar', multipart(src.archive)],
    ['multipart-zst', multipart(src.compressed)],
    ['raw-tar', raw(src.archive)],
    ['raw-zst', raw(src.compressed, 'application/zstd')],
    ['raw-octets', raw(src.archive, 'application/octet-stream')],
  ] as const
  for (const [name, body] of cases) {
    const res = await app.inject({ method: 'POST', url: `/v1/trees/${name}/restore`, ...body })
    t.equal(res.statusCode, 201, `${name}: ${res.body.slice(0, 200)}`)
    const stats = res.json() as { name: string; treeId: string; seqno: number; checkpoints: unknown }
    t.equal(stats.name, name)
    t.equal(stats.seqno, src.manifest.seqno, `${name}: at the archive's seqno`)
    t.not(stats.treeId, src.manifest.treeId, `${name}: a new treeId`)
    t.same(stats.checkpoints, { count: 0, bytes: 0, pinnedBytes: 0 })
    const key = [...src.entries.keys()][123]!
    const value = await app.inject({ method: 'GET', url: `/v1/trees/${name}/keys/${key}` })
    t.equal(value.body, src.entries.get(key), `${name}: the data is served`)
  }
  const ids = new Set((await app.inject({ method: 'GET', url: '/v1/trees' })).json().trees.map((x: { treeId: string }) => x.treeId))
  t.equal(ids.size, cases.length, 'every restored tree has its own treeId')
  t.same(readdirSync(dataDir).filter((n) => n.startsWith('.restoring-')), [], 'no staging directory left')
})

t.test('a restored tree keeps its options (merge operator) and takes writes', async (t) => {
  const { app } = await server(t)
  await createTree(t, app, 'counter', { mergeOperator: 'counter' })
  const one = Buffer.alloc(8)
  one.writeBigInt64LE(5n)
  await app.inject({ method: 'POST', url: '/v1/trees/counter/keys/n/merge', payload: one, headers: { 'content-type': 'application/octet-stream' } })
  const archive = (await app.inject({ method: 'GET', url: '/v1/trees/counter/checkpoint?compression=zstd' })).rawPayload
  const res = await app.inject({ method: 'POST', url: '/v1/trees/copy/restore', ...multipart(archive) })
  t.equal(res.statusCode, 201, res.body.slice(0, 200))
  t.equal((res.json() as { options: { mergeOperator: string } }).options.mergeOperator, 'counter')
  const merged = await app.inject({ method: 'POST', url: '/v1/trees/copy/keys/n/merge', payload: one, headers: { 'content-type': 'application/octet-stream' } })
  t.equal(merged.statusCode, 200)
  const value = await app.inject({ method: 'GET', url: '/v1/trees/copy/keys/n' })
  t.equal(value.rawPayload.readBigInt64LE(), 10n, 'the restored counter keeps counting')
})

t.test('conflicts, request shape and the byte bound', async (t) => {
  const total = src.manifest.files.reduce((n, f) => n + f.size, 0)
  const { app, dataDir } = await server(t, { maxRestoreBytes: total - 1 })
  await createTree(t, app, 'taken')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/taken/restore', ...multipart(src.archive) }), 409, 'TREE_EXISTS')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/bad..name!/restore', ...multipart(src.archive) }), 400, 'INVALID_TREE_NAME')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/x/restore', ...multipart(src.archive, 'upload') }), 400, 'INVALID_ARCHIVE', 'wrong field')
  const fieldOnly = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"\r\n\r\nhello\r\n--${BOUNDARY}--\r\n`)
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/x/restore', payload: fieldOnly, headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } }), 400, 'INVALID_ARCHIVE', 'a field, no file')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/x/restore', payload: { a: 1 } }), 415, 'UNSUPPORTED_MEDIA_TYPE')
  for (const body of [multipart(src.archive), raw(src.archive), raw(src.compressed, 'application/zstd')]) {
    const res = await app.inject({ method: 'POST', url: '/v1/trees/x/restore', ...body })
    assertError(t, res, 400, 'INVALID_ARCHIVE', 'over --max-restore-bytes')
    t.match(res.json().message, /limit/)
  }
  t.same(readdirSync(dataDir).filter((n) => n !== '.lock' && n !== '.checkpoints').sort(), ['taken'], 'nothing restored')
})

t.test('hostile corpus: 400 INVALID_ARCHIVE, nothing created, nothing written outside, catalog unchanged', async (t) => {
  const { app, parent, dataDir } = await server(t)
  await createTree(t, app, 'existing')
  const escape = `strata-http-escape-${process.pid}`
  const corpus = await hostileCorpus(src, escape)
  const treesBefore = (await app.inject({ method: 'GET', url: '/v1/trees' })).json()
  const dataBefore = readdirSync(dataDir).sort()
  let n = 0
  for (const c of corpus) {
    for (const [how, body] of [['raw', raw(c.archive)], ['multipart', multipart(c.archive)]] as const) {
      // Multipart for a third of the cases (parsing it is slower; the paths are the same after).
      if (how === 'multipart' && n++ % 3 !== 0) continue
      const res = await app.inject({ method: 'POST', url: '/v1/trees/victim/restore', ...body })
      assertError(t, res, 400, 'INVALID_ARCHIVE', `${c.name} (${how})`)
      // A plain entry name may be quoted; a path (with a slash) never is.
      t.notMatch(res.json().message, `/${escape}`, `${c.name}: the message does not echo a hostile path`)
      const now = readdirSync(dataDir).sort()
      if (JSON.stringify(now) !== JSON.stringify(dataBefore)) t.fail(`${c.name} (${how}): the data directory changed: ${now.join(', ')}`)
    }
  }
  t.same(readdirSync(dataDir).sort(), dataBefore, 'nothing created in the data directory (no tree, no staging)')
  t.same(readdirSync(parent), ['data'], 'nothing written next to the data directory')
  t.notOk(existsSync(join('/tmp', escape)), 'nothing written at an absolute path')
  t.same((await app.inject({ method: 'GET', url: '/v1/trees' })).json(), treesBefore, 'the catalog is unchanged')
  assertError(t, await app.inject({ method: 'GET', url: '/v1/trees/victim' }), 404, 'TREE_NOT_FOUND')
  const ok = await app.inject({ method: 'POST', url: '/v1/trees/victim/restore', ...raw(src.archive) })
  t.equal(ok.statusCode, 201, 'the name is free for a valid archive afterwards')
})

t.test('an upload cut off mid-way leaves nothing behind', async (t) => {
  const { app, dataDir } = await server(t)
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const { request } = await import('undici')
  const half = Math.floor(src.archive.length / 2)
  async function* body(): AsyncGenerator<Buffer> {
    yield src.archive.subarray(0, half)
    await new Promise((r) => setTimeout(r, 100))
    throw new Error('client gives up')
  }
  await request(`${url}/v1/trees/cut/restore`, { method: 'POST', body: Readable.from(body()), headers: { 'content-type': 'application/x-tar' } }).then(
    (res) => res.body.dump(),
    () => undefined,
  )
  // The server may still be winding the cut request down (under load it may not even have
  // started it): while it does, the name stays reserved (409). Wait for that, within a bound.
  const deadline = Date.now() + 10_000
  let ok = await app.inject({ method: 'POST', url: '/v1/trees/cut/restore', ...raw(src.archive) })
  while (ok.statusCode === 409 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50))
    ok = await app.inject({ method: 'POST', url: '/v1/trees/cut/restore', ...raw(src.archive) })
  }
  t.equal(ok.statusCode, 201, 'the name is free afterwards')
  t.same(readdirSync(dataDir).filter((n) => n !== '.lock' && n !== '.checkpoints'), ['cut'], 'only the restored tree: no staging left by the cut upload')
})
