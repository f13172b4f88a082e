// Checkpoint routes (src/http/routes/checkpoints.ts) on the real file system:
// - GET /checkpoint taken while writers and compaction run holds exactly the data at X-Seqno
//   (unpacked by our restore and, when installed, by GNU tar); the live tree keeps working and
//   no temporary checkpoint is left;
// - named checkpoints: create, list, stream, delete; their files survive compaction and show in
//   tree stats as pinned bytes; they survive a restart; dropping the tree removes them; debris
//   is swept at startup; a checkpoint deleted while it streams finishes streaming;
// - bounds and errors: bad ids, unknown ids, the per-tree bound.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'

import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { request } from 'undici'

import { NAMED_CHECKPOINTS_PER_TREE_MAX, restoreArchive, verifyArchive } from '../../src/backup/index.js'
import { Tree } from '../../src/engine/index.js'
import { buildServer } from '../../src/http/app.js'
import { assertError, createTree } from './helpers.js'

const small = { memtableBytes: 16 * 1024, tableBytes: 32 * 1024, blockBytes: 1024 }

function workspace(t: Test): string {
  const root = mkdtempSync(join(tmpdir(), 'strata-ckpt-http-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  return root
}

async function server(t: Test, dataDir: string): Promise<FastifyInstance> {
  const app = await buildServer({ dataDir, sync: 'none', treeDefaults: small })
  t.teardown(() => app.close())
  await app.ready()
  return app
}

/** key -> value of the tree in `dir` (opened, read, closed). */
async function treeContents(dir: string, mergeOperator?: string): Promise<{ seqno: number; treeId: string; entries: Map<string, string> }> {
  const tree = await Tree.open(dir, { createIfMissing: false, backgroundThreads: 0, ...(mergeOperator === undefined ? {} : { mergeOperator }) })
  try {
    return { seqno: tree.seqno, treeId: tree.treeId, entries: new Map([...tree.iterator()].map(([k, v]) => [k.toString(), v.toString()])) }
  } finally {
    await tree.close()
  }
}

/** The model of the writes up to `seqno`. */
function stateAt(writes: Map<number, [string, string]>, seqno: number): Map<string, string> {
  const out = new Map<string, string>()
  for (const s of [...writes.keys()].sort((a, b) => a - b)) {
    if (s > seqno) break
    const [k, v] = writes.get(s)!
    out.set(k, v)
  }
  return out
}

function tempDirs(dataDir: string, tree: string): string[] {
  const dir = join(dataDir, '.checkpoints', tree)
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('.')) : []
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('a checkpoint streamed while writers and compaction run holds exactly the data at X-Seqno', async (t) => {
  const root = workspace(t)
  const dataDir = join(root, 'data')
  const app = await server(t, dataDir)
  await createTree(t, app, 'live')
  const tree = app.catalog.get('live')!
  const writes = new Map<number, [string, string]>()
  let stop = false
  const writer = async (id: number) => {
    for (let i = 0; !stop; i++) {
      const key = `k${(i * 13 + id) % 500}`
      const value = `w${id}-${i}-${'v'.repeat(i % 40)}`
      writes.set(await tree.put(key, value), [key, value])
    }
  }
  const writers = [writer(1), writer(2), writer(3)]
  await new Promise((r) => setTimeout(r, 100))
  for (const compression of ['none', 'zstd'] as const) {
    const compaction = tree.compact()
    const res = await app.inject({ method: 'GET', url: `/v1/trees/live/checkpoint${compression === 'zstd' ? '?compression=zstd' : ''}` })
    await compaction
    t.equal(res.statusCode, 200, `${compression}: 200`)
    t.equal(res.headers['content-type'], compression === 'zstd' ? 'application/zstd' : 'application/x-tar')
    const seqno = Number(res.headers['x-seqno'])
    t.ok(seqno > 0 && Number(res.headers['x-version-id']) > 0, `X-Seqno ${seqno}, X-Version-Id ${String(res.headers['x-version-id'])}`)
    t.match(res.headers['content-disposition'], new RegExp(`filename="live-${seqno}\\.tar${compression === 'zstd' ? '\\.zst' : ''}"`))
    await new Promise((r) => setTimeout(r, 50))
    // Our restore, keeping the treeId: the same history at that seqno.
    const restored = await restoreArchive(Readable.from([res.rawPayload]), { dataDir: join(root, `restored-${compression}`), treeName: 'copy', keepTreeId: true })
    t.equal(restored.manifest.seqno, seqno, 'BACKUP.json seqno = X-Seqno')
    t.equal(restored.manifest.tree, 'live')
    const copy = await treeContents(restored.dir)
    t.equal(copy.seqno, seqno, 'the copy opens at X-Seqno')
    t.equal(copy.treeId, tree.treeId, 'same treeId (kept)')
    stop = true
    await Promise.all(writers)
    t.same(copy.entries, stateAt(writes, seqno), `${compression}: exactly the writes up to X-Seqno`)
    stop = false
    writers.splice(0, 3, writer(1), writer(2), writer(3))
  }
  stop = true
  await Promise.all(writers)
  await waitFor('temporary checkpoints to go', () => tempDirs(dataDir, 'live').length === 0)
  t.same(tempDirs(dataDir, 'live'), [], 'no temporary checkpoint left')
  await tree.put('after', 'yes')
  t.equal(tree.get('after')?.toString(), 'yes', 'the live tree keeps working')
})

t.test('GNU tar and zstd -d unpack the stream into a directory that opens as the tree', async (t) => {
  if (spawnSync('tar', ['--version']).status !== 0) {
    t.comment('GNU tar is not installed: skipped')
    return
  }
  const root = workspace(t)
  const app = await server(t, join(root, 'data'))
  await createTree(t, app, 'c', { mergeOperator: 'counter' })
  const tree = app.catalog.get('c')!
  const one = Buffer.alloc(8)
  one.writeBigInt64LE(1n)
  for (let i = 0; i < 300; i++) await tree.merge(`n${i % 30}`, one)
  const res = await app.inject({ method: 'GET', url: '/v1/trees/c/checkpoint' })
  const out = join(root, 'gnu')
  mkdirSync(out)
  const unpacked = spawnSync('tar', ['-xf', '-', '-C', out], { input: res.rawPayload })
  t.equal(unpacked.status, 0, String(unpacked.stderr))
  t.ok(existsSync(join(out, 'BACKUP.json')) && existsSync(join(out, 'OPTIONS.json')), 'BACKUP.json and OPTIONS.json unpacked')
  rmSync(join(out, 'BACKUP.json'))
  const copy = await treeContents(out, 'counter')
  t.equal(copy.seqno, Number(res.headers['x-seqno']))
  t.equal(copy.entries.size, 30)
  if (spawnSync('zstd', ['--version']).status === 0) {
    const z = await app.inject({ method: 'GET', url: '/v1/trees/c/checkpoint?compression=zstd' })
    const plain = spawnSync('zstd', ['-dc'], { input: z.rawPayload, maxBuffer: 1 << 28 })
    t.equal(plain.status, 0)
    const listing = spawnSync('tar', ['-tf', '-'], { input: plain.stdout })
    t.equal(listing.stdout.toString().split('\n')[0], 'BACKUP.json', 'zstd -d | tar -t: BACKUP.json first')
  } else t.comment('zstd is not installed: skipped')
})

t.test('named checkpoints: create, list, stats, stream, delete; their files survive compaction', async (t) => {
  const root = workspace(t)
  const dataDir = join(root, 'data')
  const app = await server(t, dataDir)
  await createTree(t, app, 'n')
  const tree = app.catalog.get('n')!
  const writes = new Map<number, [string, string]>()
  for (let i = 0; i < 2000; i++) writes.set(await tree.put(`k${i % 700}`, `a${i}`), [`k${i % 700}`, `a${i}`])
  await tree.flush()
  const created = await app.inject({ method: 'POST', url: '/v1/trees/n/checkpoints' })
  t.equal(created.statusCode, 201, created.body)
  const c = created.json() as { id: string; versionId: number; seqno: number; files: number; bytes: number; createdAt: string }
  t.match(c, { id: /^[0-9a-f]{24}$/, seqno: tree.seqno })
  t.ok(c.files >= 4 && c.bytes > 0, `${c.files} files, ${c.bytes} bytes`)
  const listed = await app.inject({ method: 'GET', url: '/v1/trees/n/checkpoints' })
  t.same(listed.json(), { checkpoints: [c] })
  const before = (await app.inject({ method: 'GET', url: '/v1/trees/n' })).json() as { checkpoints: { count: number; bytes: number; pinnedBytes: number } }
  t.equal(before.checkpoints.count, 1)
  t.equal(before.checkpoints.bytes, c.bytes)
  // Overwrite everything and compact: the live tree drops the checkpoint's tables.
  for (let i = 0; i < 2000; i++) await tree.put(`k${i % 700}`, `b${i}`)
  await tree.compact()
  const after = (await app.inject({ method: 'GET', url: '/v1/trees/n' })).json() as { checkpoints: { pinnedBytes: number } }
  t.ok(after.checkpoints.pinnedBytes > before.checkpoints.pinnedBytes, `pinned bytes grew after compaction: ${before.checkpoints.pinnedBytes} -> ${after.checkpoints.pinnedBytes}`)
  t.ok(after.checkpoints.pinnedBytes >= c.bytes - 4096, 'nearly all of the checkpoint is now pinned by it alone')
  for (const compression of ['none', 'zstd']) {
    const res = await app.inject({ method: 'GET', url: `/v1/trees/n/checkpoints/${c.id}?compression=${compression}` })
    t.equal(res.statusCode, 200)
    t.equal(Number(res.headers['x-seqno']), c.seqno)
    t.equal(Number(res.headers['x-version-id']), c.versionId)
    const restored = await restoreArchive(Readable.from([res.rawPayload]), { dataDir: join(root, 'r'), treeName: compression })
    t.same((await treeContents(restored.dir)).entries, stateAt(writes, c.seqno), `${compression}: the data at the checkpoint's seqno, after compaction`)
  }
  const del = await app.inject({ method: 'DELETE', url: `/v1/trees/n/checkpoints/${c.id}` })
  t.equal(del.statusCode, 204)
  t.same((await app.inject({ method: 'GET', url: '/v1/trees/n/checkpoints' })).json(), { checkpoints: [] })
  t.notOk(existsSync(join(dataDir, '.checkpoints', 'n', c.id)), 'its files are gone')
  assertError(t, await app.inject({ method: 'DELETE', url: `/v1/trees/n/checkpoints/${c.id}` }), 404, 'CHECKPOINT_NOT_FOUND')
  assertError(t, await app.inject({ method: 'GET', url: `/v1/trees/n/checkpoints/${c.id}` }), 404, 'CHECKPOINT_NOT_FOUND')
  for (const bad of ['..%2F..%2Fetc', 'ABCDEF0123456789abcdef01', '0'.repeat(25), 'x']) {
    assertError(t, await app.inject({ method: 'GET', url: `/v1/trees/n/checkpoints/${bad}` }), 400, 'VALIDATION_ERROR', `id ${bad}`)
  }
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/nope/checkpoints' }), 404, 'TREE_NOT_FOUND')
  assertError(t, await app.inject({ method: 'GET', url: '/v1/trees/nope/checkpoint' }), 404, 'TREE_NOT_FOUND')
  assertError(t, await app.inject({ method: 'GET', url: '/v1/trees/n/checkpoint?compression=gzip' }), 400, 'VALIDATION_ERROR')
})

t.test('named checkpoints survive a restart; a drop removes them; debris is swept at startup', async (t) => {
  const root = workspace(t)
  const dataDir = join(root, 'data')
  const first = await buildServer({ dataDir, sync: 'none', treeDefaults: small })
  await createTree(t, first, 'p')
  await first.catalog.get('p')!.put('a', '1')
  const c = (await first.inject({ method: 'POST', url: '/v1/trees/p/checkpoints' })).json() as { id: string; seqno: number }
  await first.close()
  // Debris a crash could leave: a temporary stream, a half-made checkpoint, a directory without
  // its record, a record without its directory, the checkpoints of a tree that is gone.
  const dir = join(dataDir, '.checkpoints', 'p')
  mkdirSync(join(dir, '.stream-0123'))
  mkdirSync(join(dir, '.creating-4567'))
  mkdirSync(join(dir, 'aaaaaaaaaaaaaaaaaaaaaaaa'))
  writeFileSync(join(dir, 'bbbbbbbbbbbbbbbbbbbbbbbb.json'), '{}')
  mkdirSync(join(dataDir, '.checkpoints', 'ghost', 'cccccccccccccccccccccccc'), { recursive: true })
  const app = await server(t, dataDir)
  t.same(readdirSync(dir).sort(), [c.id, `${c.id}.json`], 'only the real checkpoint is left')
  t.notOk(existsSync(join(dataDir, '.checkpoints', 'ghost')), 'the checkpoints of a tree that is gone are removed')
  t.same(((await app.inject({ method: 'GET', url: '/v1/trees/p/checkpoints' })).json() as { checkpoints: { id: string }[] }).checkpoints.map((x) => x.id), [c.id], 'listed after the restart')
  const res = await app.inject({ method: 'GET', url: `/v1/trees/p/checkpoints/${c.id}` })
  t.equal((await verifyArchive(Readable.from([res.rawPayload]), { maxBytes: 1 << 30 })).manifest.seqno, c.seqno, 'streams after the restart')
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/trees/p' })).statusCode, 204)
  t.notOk(existsSync(dir), 'dropping the tree removed its checkpoints')
  await createTree(t, app, 'p')
  t.same((await app.inject({ method: 'GET', url: '/v1/trees/p/checkpoints' })).json(), { checkpoints: [] }, 'a new tree of the same name has none')
})

t.test('a named checkpoint deleted while it streams finishes streaming, then goes', async (t) => {
  const root = workspace(t)
  const dataDir = join(root, 'data')
  const app = await server(t, dataDir)
  await createTree(t, app, 's')
  const tree = app.catalog.get('s')!
  const big = Buffer.alloc(64 * 1024, 1)
  for (let i = 0; i < 400; i++) await tree.put(`k${i}`, big.subarray(0, 60_000 + i))
  const c = (await app.inject({ method: 'POST', url: '/v1/trees/s/checkpoints' })).json() as { id: string }
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const res = await request(`${url}/v1/trees/s/checkpoints/${c.id}`)
  t.equal(res.statusCode, 200)
  const chunks: Buffer[] = []
  const iterator = res.body[Symbol.asyncIterator]()
  chunks.push((await iterator.next()).value as Buffer)
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/trees/s/checkpoints/${c.id}` })).statusCode, 204, 'deleted mid-stream')
  t.ok(existsSync(join(dataDir, '.checkpoints', 's', c.id)), 'its files stay while the stream reads them')
  for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) chunks.push(next.value as Buffer)
  const archive = Buffer.concat(chunks)
  t.ok(archive.length > 20 * 1024 * 1024, `${archive.length} bytes streamed`)
  await verifyArchive(Readable.from([archive]), { maxBytes: 1 << 30 })
  t.pass('the archive verifies')
  await waitFor('the deleted checkpoint to go', () => !existsSync(join(dataDir, '.checkpoints', 's', c.id)))
  t.pass('its files are gone once the stream ended')
})

t.test(`at most ${NAMED_CHECKPOINTS_PER_TREE_MAX} named checkpoints per tree`, async (t) => {
  const root = workspace(t)
  const app = await server(t, join(root, 'data'))
  await createTree(t, app, 'm')
  await app.catalog.get('m')!.put('a', 'b')
  for (let i = 0; i < NAMED_CHECKPOINTS_PER_TREE_MAX; i++) {
    const res = await app.inject({ method: 'POST', url: '/v1/trees/m/checkpoints' })
    if (res.statusCode !== 201) t.fail(`checkpoint ${i}: ${res.body}`)
  }
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/m/checkpoints' }), 429, 'TOO_MANY_CHECKPOINTS')
  const list = (await app.inject({ method: 'GET', url: '/v1/trees/m/checkpoints' })).json() as { checkpoints: { id: string }[] }
  t.equal(list.checkpoints.length, NAMED_CHECKPOINTS_PER_TREE_MAX)
  t.same(list.checkpoints.map((c) => c.id), list.checkpoints.map((c) => c.id).sort(), 'oldest first (ids sort by creation)')
})
