// The leader's replication routes over HTTP: state, delta with long-poll and leases,
// VERSION_GONE, files with ETag and Range (206, 416, If-Range), lease release, the framed WAL
// stream; admin role only.
import t from 'tap'
import { request } from 'undici'
import { crc32cUpdate } from '../../src/engine/index.js'
import { FrameDecoder, FrameType } from '../../src/replication/wal-wire.js'
import { parseRange } from '../../src/http/routes/replication.js'
import { TOKEN_ENTRIES, assertError, bearer, createTree, makeApp, putKey } from '../http/helpers.js'

const tiny = { memtableBytes: 8192, blockBytes: 512, tableBytes: 8192 }
const admin = bearer('admin')

t.test('parseRange', async (t) => {
  t.same(parseRange('bytes=0-9', 100), { start: 0, end: 9 })
  t.same(parseRange('bytes=90-', 100), { start: 90, end: 99 })
  t.same(parseRange('bytes=-10', 100), { start: 90, end: 99 })
  t.same(parseRange('bytes=50-500', 100), { start: 50, end: 99 }, 'clamped')
  t.equal(parseRange('bytes=100-', 100), 'unsatisfiable')
  t.equal(parseRange('bytes=9-3', 100), 'unsatisfiable')
  t.equal(parseRange('bytes=0-1,5-6', 100), undefined, 'several ranges: whole file')
  t.equal(parseRange(undefined, 100), undefined)
})

t.test('state, delta, files, leases', async (t) => {
  const { app } = await makeApp(t, { tokens: TOKEN_ENTRIES, treeDefaults: tiny })
  await createTree(t, app, 'a', undefined, admin)
  const state = (await app.inject({ url: '/v1/trees/a/replication/state', headers: admin })).json()
  t.match(state, { protocol: 1, treeId: String, versionId: Number, seqno: 0, tablesSeqno: 0, epoch: String })
  assertError(t, await app.inject({ url: '/v1/trees/a/replication/state', headers: bearer('write') }), 403, 'FORBIDDEN')
  const since = state.versionId as number
  const empty = (await app.inject({ url: `/v1/trees/a/replication/delta?since=${since}&wait=50`, headers: admin })).json()
  t.same([empty.from, empty.to, empty.leaseId, empty.addTables], [since, since, null, []], 'long-poll ran out: empty delta')
  const polling = app.inject({ url: `/v1/trees/a/replication/delta?since=${since}&wait=10000`, headers: admin })
  for (let i = 0; i < 300; i++) await putKey(app, 'a', `k${String(i).padStart(4, '0')}`, 'v'.repeat(50), admin)
  await app.inject({ method: 'POST', url: '/v1/trees/a/flush', headers: admin })
  const delta = (await polling).json()
  t.ok(delta.to > since && delta.addTables.length > 0 && typeof delta.leaseId === 'string', 'woken by the new version, leased')
  t.ok(Date.parse(delta.leaseExpiresAt) > Date.now())
  assertError(t, await app.inject({ url: '/v1/trees/a/replication/delta?since=999999', headers: admin }), 410, 'VERSION_GONE')
  assertError(t, await app.inject({ url: `/v1/trees/a/replication/delta?since=${since}&wait=30001`, headers: admin }), 400, 'VALIDATION_ERROR')
  assertError(t, await app.inject({ url: '/v1/trees/a/replication/delta', headers: admin }), 400, 'VALIDATION_ERROR')

  const table = delta.addTables[0]
  const url = `/v1/trees/a/replication/files/tables/${table.id}`
  const whole = await app.inject({ url, headers: admin })
  t.equal(whole.statusCode, 200)
  t.equal(whole.headers.etag, `"${table.checksum}"`, 'quoted ETag = checksum')
  t.equal(whole.rawPayload.length, table.size)
  t.equal(crc32cUpdate(0, whole.rawPayload).toString(16).padStart(8, '0'), table.checksum, 'bytes match the checksum')
  const part = await app.inject({ url, headers: { ...admin, range: 'bytes=100-' } })
  t.equal(part.statusCode, 206)
  t.equal(part.headers['content-range'], `bytes 100-${table.size - 1}/${table.size}`)
  t.same(part.rawPayload, whole.rawPayload.subarray(100), 'resumed bytes')
  const stale = await app.inject({ url, headers: { ...admin, range: 'bytes=100-', 'if-range': '"00000000"' } })
  t.equal(stale.statusCode, 200, 'If-Range with another ETag: the whole file')
  const past = await app.inject({ url, headers: { ...admin, range: `bytes=${table.size}-` } })
  assertError(t, past, 416, 'RANGE_NOT_SATISFIABLE')
  t.equal(past.headers['content-range'], `bytes */${table.size}`)
  assertError(t, await app.inject({ url: '/v1/trees/a/replication/files/tables/999999', headers: admin }), 404, 'FILE_NOT_FOUND')
  assertError(t, await app.inject({ url: '/v1/trees/a/replication/files/other/1', headers: admin }), 400, 'VALIDATION_ERROR')

  const release = await app.inject({ method: 'DELETE', url: `/v1/trees/a/replication/leases/${delta.leaseId}`, headers: admin })
  t.equal(release.statusCode, 204)
  assertError(t, await app.inject({ method: 'DELETE', url: `/v1/trees/a/replication/leases/${delta.leaseId}`, headers: admin }), 404, 'LEASE_NOT_FOUND')
  const metrics = (await app.inject({ url: '/metrics' })).body
  t.match(metrics, /strata_replication_file_requests_total\{tree="a",kind="table"\} 3/, 'downloads counted')
})

t.test('the WAL stream: hello, records after since, heartbeat-free when busy, END on WAL_GONE', async (t) => {
  const { app } = await makeApp(t, { treeDefaults: tiny })
  await createTree(t, app, 'w')
  for (let i = 0; i < 5; i++) await putKey(app, 'w', `k${i}`, 'v')
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const res = await request(`${address}/v1/trees/w/replication/wal?since=2`)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /application\/vnd\.strata\.wal-stream/)
  const decoder = new FrameDecoder()
  const frames = []
  let wrote = false
  for await (const chunk of res.body) {
    frames.push(...decoder.push(chunk as Buffer))
    if (!wrote && frames.length >= 4) {
      wrote = true
      await putKey(app, 'w', 'live', 'x')
    }
    if (frames.length >= 5) break
  }
  res.body.destroy()
  t.equal(frames[0]!.type, FrameType.Hello)
  t.match(JSON.parse(frames[0]!.payload.toString()), { format: 1, treeId: String, epoch: String })
  t.same(frames.slice(1).map((f) => [f.type, f.seqno]), [[2, 3], [2, 4], [2, 5], [2, 6]], 'records 3..6, the last one live')
  t.equal(frames[4]!.payload.readBigUInt64LE(0), 6n, 'a record is the WAL batch record')

  // After a flush the records are in tables: the stream says so and ends.
  await app.inject({ method: 'POST', url: '/v1/trees/w/flush' })
  for (let i = 0; i < 400; i++) await putKey(app, 'w', `m${i}`, 'y'.repeat(40)) // rotates and flushes WALs away
  await app.inject({ method: 'POST', url: '/v1/trees/w/flush' })
  const gone = await request(`${address}/v1/trees/w/replication/wal?since=1`)
  const all = new FrameDecoder().push(Buffer.from(await gone.body.arrayBuffer()))
  t.equal(all.at(-1)!.type, FrameType.End)
  t.match(JSON.parse(all.at(-1)!.payload.toString()), { code: 'WAL_GONE' })
  const ahead = await request(`${address}/v1/trees/w/replication/wal?since=999999`)
  t.equal(ahead.statusCode, 400)
  await ahead.body.dump()
})

t.test('the WAL stream: a reader that stops reading gets backpressure, then WAL_GONE, never an unbounded buffer', async (t) => {
  const { app } = await makeApp(t)
  await createTree(t, app, 's')
  await putKey(app, 's', 'first', 'v')
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const catalogTree = () => app.catalog.get('s')!
  const since = catalogTree().seqno
  const res = await request(`${address}/v1/trees/s/replication/wal?since=${since}`)
  t.equal(res.statusCode, 200)
  const decoder = new FrameDecoder()
  const frames: ReturnType<FrameDecoder['push']> = []
  const body = res.body
  await new Promise<void>((resolve) => {
    body.once('data', (chunk: Buffer) => {
      body.pause() // stop reading: the socket fills up, the leader must stop writing
      frames.push(...decoder.push(chunk))
      resolve()
    })
  })
  t.equal(frames[0]!.type, FrameType.Hello)
  const value = Buffer.alloc(256 * 1024, 3)
  const writes = 160 // 40 MiB: well past the socket buffers plus the 16 MiB subscription queue
  for (let i = 0; i < writes; i++) await putKey(app, 's', `big${i % 7}`, value)
  body.resume()
  for await (const chunk of body) frames.push(...decoder.push(chunk as Buffer))
  const records = frames.filter((f) => f.type === FrameType.Record)
  t.ok(records.length < writes, `the stream held back: ${records.length} of ${writes} records reached the reader`)
  t.same(records.map((f) => f.seqno), records.map((_, i) => since + 1 + i), 'the records it got are consecutive')
  t.equal(frames.at(-1)!.type, FrameType.End, 'the stream ends with END')
  t.match(JSON.parse(frames.at(-1)!.payload.toString()), { code: 'WAL_GONE' })
  t.equal(catalogTree().replication.walStreams, 0, 'the subscription is gone')
})
