// --max-transfer-mbps: the token bucket paces bytes; on a leader it bounds both checkpoint
// archives and replication files. Also the follower's retry backoff (doubling, jittered, capped).
import t from 'tap'
import { RateLimiter, mbpsToBytesPerSecond } from '../../src/replication/rate-limit.js'
import { BACKOFF_MAX_MS, backoffMs } from '../../src/replication/tree-replicator.js'
import { bearer, createTree, makeApp, TOKEN_ENTRIES } from '../http/helpers.js'

t.test('token bucket', async (t) => {
  t.equal(mbpsToBytesPerSecond(8), 1_000_000)
  const limiter = new RateLimiter(100_000)
  const started = performance.now()
  for (let i = 0; i < 30; i++) await limiter.take(10_000) // 300 kB at 100 kB/s, 100 kB burst
  const seconds = (performance.now() - started) / 1000
  t.ok(seconds >= 1.8 && seconds < 4, `300 kB took ${seconds.toFixed(2)} s (about 2 s after the burst)`)
  t.throws(() => new RateLimiter(0), TypeError)
})

t.test('backoff doubles with jitter up to the cap', async (t) => {
  t.same([backoffMs(1, () => 0), backoffMs(1, () => 1)], [200, 400])
  t.same([backoffMs(3, () => 0), backoffMs(3, () => 1)], [800, 1600])
  t.equal(backoffMs(40, () => 1), BACKOFF_MAX_MS)
  t.equal(backoffMs(40, () => 0), BACKOFF_MAX_MS / 2)
})

t.test('a leader with --max-transfer-mbps paces checkpoints and files', async (t) => {
  const { app } = await makeApp(t, { tokens: TOKEN_ENTRIES, real: true, maxTransferMbps: 2 }) // 250 kB/s
  await createTree(t, app, 'p', undefined, bearer('admin'))
  const since = (await app.inject({ url: '/v1/trees/p/replication/state', headers: bearer('admin') })).json().versionId
  const ops = Array.from({ length: 1000 }, (_, i) => ({ type: 'put', key: `k${i}`, value: 'v'.repeat(700) }))
  await app.inject({ method: 'POST', url: '/v1/trees/p/batch', payload: { ops }, headers: bearer('admin') })
  await app.inject({ method: 'POST', url: '/v1/trees/p/flush', headers: bearer('admin') })
  let started = performance.now()
  const archive = await app.inject({ url: '/v1/trees/p/checkpoint', headers: bearer('admin') })
  let seconds = (performance.now() - started) / 1000
  t.equal(archive.statusCode, 200)
  const floor = (archive.rawPayload.length - 250_000) / 250_000
  t.ok(seconds >= floor * 0.9, `${archive.rawPayload.length} archive bytes in ${seconds.toFixed(2)} s (at least ${floor.toFixed(2)} s)`)
  const delta = (await app.inject({ url: `/v1/trees/p/replication/delta?since=${since}`, headers: bearer('admin') })).json()
  started = performance.now()
  const file = await app.inject({ url: `/v1/trees/p/replication/files/tables/${delta.addTables[0].id}`, headers: bearer('admin') })
  seconds = (performance.now() - started) / 1000
  t.equal(file.statusCode, 200)
  t.ok(seconds >= 0.5, `${file.rawPayload.length} file bytes in ${seconds.toFixed(2)} s: the bucket was spent by the archive`)
})
