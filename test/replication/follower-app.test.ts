// The HTTP app in follower mode (app.inject): reads from the follower's copies, 409 with
// Location for every write route, X-Min-Seqno waits then 503 FOLLOWER_BEHIND (400 when
// malformed), X-Seqno on reads, /readyz until bootstrapped, replication stats; on a leader
// X-Min-Seqno is always satisfied.
import t from 'tap'
import { MemVfs, Tree, type CatalogEntry } from '../../src/engine/index.js'
import { buildServer } from '../../src/http/app.js'
import type { TreeCatalog } from '../../src/http/plugins/catalog.js'
import { assertError, createTree, makeApp, putKey } from '../http/helpers.js'

async function followerCopy(vfs: MemVfs): Promise<{ leader: Tree; follower: Tree }> {
  const leader = await Tree.open('/leader', { vfs })
  await leader.put('k', 'v1')
  const ckpt = await leader.checkpoint('/copy')
  const follower = await Tree.open('/copy', { vfs, replication: { follower: true } })
  await follower.replica.installDelta({ treeId: leader.treeId, from: ckpt.versionId, to: ckpt.versionId, seqno: ckpt.seqno, addTables: [], removeTables: [], addBlobFiles: [], removeBlobFiles: [] })
  return { leader, follower }
}

t.test('follower mode', async (t) => {
  const vfs = new MemVfs()
  const { leader, follower } = await followerCopy(vfs)
  t.teardown(() => leader.close())
  let ready = false
  const entries = (): CatalogEntry[] => [{ name: 't', tree: follower, options: {} }]
  const catalog = {
    dataDir: '/copies',
    get: (name: string) => (name === 't' ? follower : undefined),
    optionsOf: () => ({}),
    failure: () => undefined,
    list: entries,
    failures: () => [],
    create: async () => { throw new Error('no') },
    adopt: async () => { throw new Error('no') },
    drop: async () => { throw new Error('no') },
    close: async () => { await follower.close() },
  } as unknown as TreeCatalog
  const app = await buildServer({
    dataDir: '/unused',
    vfs,
    follower: {
      catalog,
      leaderUrl: 'http://leader.example:7070/',
      notReady: () => (ready ? [] : [{ tree: 't', code: 'BOOTSTRAPPING' }]),
      replicationStats: (name) => (name === 't' ? { leader: 'http://leader.example:7070', versionId: 3, seqnoLag: 0, secondsBehind: 0 } : undefined),
      registerMetrics: () => undefined,
    },
  })
  t.teardown(() => app.close())

  const notReady = await app.inject({ url: '/readyz' })
  t.equal(notReady.statusCode, 503)
  t.match(notReady.json(), { unavailable: [{ tree: 't', code: 'BOOTSTRAPPING' }] })
  ready = true
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)

  const read = await app.inject({ url: '/v1/trees/t/keys/k' })
  t.equal(read.statusCode, 200)
  t.equal(read.body, 'v1')
  t.equal(read.headers['x-seqno'], String(follower.seqno))
  const scan = await app.inject({ url: '/v1/trees/t/scan' })
  t.equal(scan.headers['x-seqno'], String(follower.seqno), 'scans carry X-Seqno')
  t.match((await app.inject({ url: '/v1/trees/t' })).json(), { replication: { leader: 'http://leader.example:7070', versionId: 3 } })

  for (const [method, url] of [['PUT', '/v1/trees/t/keys/x'], ['DELETE', '/v1/trees/t/keys/k'], ['POST', '/v1/trees/t/flush'], ['PUT', '/v1/trees/new'], ['DELETE', '/v1/trees/t'], ['POST', '/v1/trees/t/snapshots'], ['GET', '/v1/trees/t/checkpoint']] as const) {
    const res = await app.inject({ method, url, ...(method === 'PUT' && url.includes('keys') ? { payload: Buffer.from('x'), headers: { 'content-type': 'application/octet-stream' } } : {}) })
    assertError(t, res, 409, 'READ_ONLY_FOLLOWER', `${method} ${url}`)
    t.equal(res.headers['location'], `http://leader.example:7070${url}`, `${method} ${url}: Location`)
  }
  t.equal(follower.get('k')?.toString(), 'v1', 'nothing written')

  assertError(t, await app.inject({ url: '/v1/trees/t/keys/k', headers: { 'x-min-seqno': '-1' } }), 400, 'INVALID_MIN_SEQNO')
  t.equal((await app.inject({ url: '/v1/trees/t/keys/k', headers: { 'x-min-seqno': String(follower.seqno) } })).statusCode, 200, 'already applied')
  const started = Date.now()
  const behind = await app.inject({ url: '/v1/trees/t/keys/k', headers: { 'x-min-seqno': String(follower.seqno + 1) } })
  assertError(t, behind, 503, 'FOLLOWER_BEHIND')
  t.ok(Date.now() - started >= 4_900, 'waited about 5 s first')
  t.equal(behind.headers['x-seqno'], String(follower.seqno))
})

t.test('a leader always satisfies X-Min-Seqno', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 'l')
  const seqno = await putKey(app, 'l', 'a', 'b')
  const res = await app.inject({ url: '/v1/trees/l/keys/a', headers: { 'x-min-seqno': String(seqno + 1000) } })
  t.equal(res.statusCode, 200, 'no waiting on a leader')
  assertError(t, await app.inject({ url: '/v1/trees/l/scan', headers: { 'x-min-seqno': 'x' } }), 400, 'INVALID_MIN_SEQNO')
})
