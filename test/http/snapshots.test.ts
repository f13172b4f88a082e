/**
 * Snapshots: POST pins the current seqno with a TTL (201 { seqno, expiresAt }), reads and scans
 * at it stay exact across compactions while pinned, DELETE releases it (204, then 404), and a
 * pin expires on its own (a fake clock drives the expiry; one test uses the real timer). Scan
 * cursors pin their snapshot the same way and lose it when their TTL passes.
 */
import t from 'tap'

import { assertError, createTree, keyUrl, makeApp, putKey } from './helpers.js'

function fakeClock(startMs = Date.UTC(2030, 0, 1)) {
  let nowMs = startMs
  return { now: () => nowMs, advance: (ms: number) => void (nowMs += ms) }
}

t.test('pin, read through a compaction, release', async (t) => {
  const clock = fakeClock()
  const { app } = await makeApp(t, { now: clock.now })
  await createTree(t, app, 's')
  await putKey(app, 's', 'k', 'old')
  const res = await app.inject({ method: 'POST', url: '/v1/trees/s/snapshots?ttl=30' })
  t.equal(res.statusCode, 201, res.body)
  const snap = res.json() as { seqno: number; expiresAt: string }
  t.equal(snap.seqno, 1)
  t.equal(snap.expiresAt, new Date(clock.now() + 30_000).toISOString())
  await putKey(app, 's', 'k', 'new')
  t.equal((await app.inject({ method: 'POST', url: '/v1/trees/s/compact' })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: `${keyUrl('s', 'k')}?seqno=${snap.seqno}` })).body, 'old', 'pinned history survives compaction')
  const scan = (await app.inject({ method: 'GET', url: `/v1/trees/s/scan?seqno=${snap.seqno}` })).json()
  t.same(scan, { items: [{ key: 'k', value: 'old' }] })
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/trees/s/snapshots/${snap.seqno}` })).statusCode, 204)
  assertError(t, await app.inject({ method: 'DELETE', url: `/v1/trees/s/snapshots/${snap.seqno}` }), 404, 'SNAPSHOT_NOT_FOUND', 'released twice')
  await putKey(app, 's', 'k', 'newer')
  t.equal((await app.inject({ method: 'POST', url: '/v1/trees/s/compact' })).statusCode, 200)
  assertError(t, await app.inject({ method: 'GET', url: `${keyUrl('s', 'k')}?seqno=${snap.seqno}` }), 410, 'SEQNO_UNAVAILABLE')
})

t.test('a snapshot expires after its TTL (fake clock)', async (t) => {
  const clock = fakeClock()
  const { app } = await makeApp(t, { now: clock.now, snapshotTtlSecondsDefault: 5 })
  await createTree(t, app, 's')
  await putKey(app, 's', 'k', 'old')
  const snap = (await app.inject({ method: 'POST', url: '/v1/trees/s/snapshots' })).json() as { seqno: number; expiresAt: string }
  t.equal(snap.expiresAt, new Date(clock.now() + 5_000).toISOString(), 'the default TTL')
  // Pinning again extends the same pin.
  clock.advance(3_000)
  const again = (await app.inject({ method: 'POST', url: '/v1/trees/s/snapshots?ttl=10' })).json() as { seqno: number; expiresAt: string }
  t.equal(again.seqno, snap.seqno)
  t.equal(again.expiresAt, new Date(clock.now() + 10_000).toISOString())
  clock.advance(9_999)
  t.equal(app.snapshots.sweep(), 0, 'not yet')
  clock.advance(2)
  t.equal(app.snapshots.sweep(), 1, 'expired and released')
  assertError(t, await app.inject({ method: 'DELETE', url: `/v1/trees/s/snapshots/${snap.seqno}` }), 404, 'SNAPSHOT_NOT_FOUND')
  await putKey(app, 's', 'k', 'new')
  await app.inject({ method: 'POST', url: '/v1/trees/s/compact' })
  assertError(t, await app.inject({ method: 'GET', url: `${keyUrl('s', 'k')}?seqno=${snap.seqno}` }), 410, 'SEQNO_UNAVAILABLE')
})

t.test('an expired pin is gone even before the sweep runs', async (t) => {
  const clock = fakeClock()
  const { app } = await makeApp(t, { now: clock.now })
  await createTree(t, app, 's')
  await putKey(app, 's', 'k', 'v')
  const snap = (await app.inject({ method: 'POST', url: '/v1/trees/s/snapshots?ttl=1' })).json() as { seqno: number }
  clock.advance(1_000)
  assertError(t, await app.inject({ method: 'DELETE', url: `/v1/trees/s/snapshots/${snap.seqno}` }), 404, 'SNAPSHOT_NOT_FOUND')
})

t.test('a snapshot expires on the real timer', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 's')
  await putKey(app, 's', 'k', 'v')
  const snap = (await app.inject({ method: 'POST', url: '/v1/trees/s/snapshots?ttl=1' })).json() as { seqno: number }
  t.equal(app.snapshots.count('s'), 1)
  await new Promise((resolve) => setTimeout(resolve, 2_200))
  t.equal(app.snapshots.count('s'), 0, 'the sweep released it')
  assertError(t, await app.inject({ method: 'DELETE', url: `/v1/trees/s/snapshots/${snap.seqno}` }), 404, 'SNAPSHOT_NOT_FOUND')
})

t.test('a scan cursor pins its snapshot until its TTL passes', async (t) => {
  const clock = fakeClock()
  const { app } = await makeApp(t, { now: clock.now, cursorTtlSeconds: 60 })
  await createTree(t, app, 's')
  const ops = Array.from({ length: 10 }, (_, i) => ({ type: 'put', key: `k${i}`, value: 'old' }))
  await app.inject({ method: 'POST', url: '/v1/trees/s/batch', payload: { ops } })
  const first = (await app.inject({ method: 'GET', url: '/v1/trees/s/scan?limit=3' })).json() as { cursor: string }
  const overwrite = Array.from({ length: 10 }, (_, i) => ({ type: 'put', key: `k${i}`, value: 'new' }))
  await app.inject({ method: 'POST', url: '/v1/trees/s/batch', payload: { ops: overwrite } })
  await app.inject({ method: 'POST', url: '/v1/trees/s/compact' })
  clock.advance(59_000)
  const second = await app.inject({ method: 'GET', url: `/v1/trees/s/scan?cursor=${first.cursor}` })
  t.equal(second.statusCode, 200, 'pinned within its TTL')
  t.same((second.json() as { items: { value: string }[] }).items.map((i) => i.value), ['old', 'old', 'old'])
  const cursor = (second.json() as { cursor: string }).cursor
  clock.advance(59_000)
  t.equal((await app.inject({ method: 'GET', url: `/v1/trees/s/scan?cursor=${cursor}` })).statusCode, 200, 'each page extends the pin')
  clock.advance(61_000)
  app.snapshots.sweep()
  await app.inject({ method: 'POST', url: '/v1/trees/s/batch', payload: { ops } })
  await app.inject({ method: 'POST', url: '/v1/trees/s/compact' })
  assertError(t, await app.inject({ method: 'GET', url: `/v1/trees/s/scan?cursor=${cursor}` }), 410, 'SEQNO_UNAVAILABLE', 'expired cursor')
})

t.test('bad snapshot requests', async (t) => {
  const { app } = await makeApp(t, { snapshotTtlSecondsMax: 100 })
  await createTree(t, app, 's')
  for (const q of ['ttl=0', 'ttl=101', 'ttl=-1', 'ttl=abc', 'ttl=1.5', 'other=1']) {
    assertError(t, await app.inject({ method: 'POST', url: `/v1/trees/s/snapshots?${q}` }), 400, 'VALIDATION_ERROR', q)
  }
  t.equal((await app.inject({ method: 'POST', url: '/v1/trees/s/snapshots?ttl=100' })).statusCode, 201)
  assertError(t, await app.inject({ method: 'DELETE', url: '/v1/trees/s/snapshots/abc' }), 400, 'VALIDATION_ERROR')
  assertError(t, await app.inject({ method: 'DELETE', url: '/v1/trees/s/snapshots/-1' }), 400, 'VALIDATION_ERROR')
  assertError(t, await app.inject({ method: 'DELETE', url: '/v1/trees/s/snapshots/12345' }), 404, 'SNAPSHOT_NOT_FOUND')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/none/snapshots' }), 404, 'TREE_NOT_FOUND')
  assertError(t, await app.inject({ method: 'DELETE', url: '/v1/trees/none/snapshots/1' }), 404, 'TREE_NOT_FOUND')
})

t.test('dropping a tree releases its snapshots', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 's')
  t.equal((await app.inject({ method: 'POST', url: '/v1/trees/s/snapshots' })).statusCode, 201)
  t.equal(app.snapshots.count('s'), 1)
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/trees/s' })).statusCode, 204)
  t.equal(app.snapshots.count('s'), 0)
})

t.test('pins per tree are bounded: 429 TOO_MANY_SNAPSHOTS; cursors go on unpinned', async (t) => {
  const clock = fakeClock()
  const { app } = await makeApp(t, { now: clock.now, snapshotPinsPerTreeMax: 2 })
  await createTree(t, app, 's')
  await putKey(app, 's', 'a', '1')
  t.equal((await app.inject({ method: 'POST', url: '/v1/trees/s/snapshots' })).statusCode, 201)
  t.equal((await app.inject({ method: 'POST', url: '/v1/trees/s/snapshots' })).statusCode, 201, 'the same seqno: the same pin')
  await putKey(app, 's', 'b', '2')
  t.equal((await app.inject({ method: 'POST', url: '/v1/trees/s/snapshots' })).statusCode, 201)
  await putKey(app, 's', 'c', '3')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/trees/s/snapshots' }), 429, 'TOO_MANY_SNAPSHOTS')
  const page = await app.inject({ method: 'GET', url: '/v1/trees/s/scan?limit=1' })
  t.equal(page.statusCode, 200, 'a scan still answers with a full registry')
  t.type((page.json() as { cursor?: string }).cursor, 'string')
  t.equal(app.snapshots.count('s'), 2)
  clock.advance(61_000)
  t.equal((await app.inject({ method: 'POST', url: '/v1/trees/s/snapshots' })).statusCode, 201, 'expired pins make room')
})
