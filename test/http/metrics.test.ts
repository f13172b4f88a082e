/**
 * plugins/metrics.ts: request counters and latency histograms by route pattern (never the raw
 * URL), per-tree read/write counters bumped by the key routes, per-tree engine figures read from
 * stats() at scrape time (once per tree per scrape), one registry per app, dropped trees'
 * series gone.
 */
import Fastify from 'fastify'
import t from 'tap'
import type { TreeStats } from '../../src/engine/index.js'
import { buildServer } from '../../src/http/app.js'
import { UNMATCHED_ROUTE, cacheHitRatio, metricsPlugin } from '../../src/http/plugins/metrics.js'
import { tempDir } from '../helpers/cli-process.js'

const OCTETS = { 'content-type': 'application/octet-stream' }

/** The value of the sample `name{labels}` in Prometheus text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && line.split(' ')[0] !== name) continue
    const braces = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line)
    if (braces === null) continue
    const have = new Map([...(braces[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]))
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v) && have.size === Object.keys(labels).length) return Number(braces[2])
  }
  return undefined
}

async function app(): Promise<Awaited<ReturnType<typeof buildServer>>> {
  const dir = tempDir('strata-metrics-')
  t.teardown(dir.remove)
  const server = await buildServer({ dataDir: dir.path, treeDefaults: { memtableBytes: 64 * 1024 } })
  t.teardown(() => server.close())
  return server
}

async function scrape(server: Awaited<ReturnType<typeof buildServer>>): Promise<string> {
  const response = await server.inject({ method: 'GET', url: '/metrics' })
  return response.body
}

t.test('requests by method, route pattern and status, with latency histograms', async (t) => {
  const server = await app()
  await server.inject({ method: 'PUT', url: '/v1/trees/m' })
  for (const key of ['a', 'b', '%FF%00', '%2Fslash']) {
    await server.inject({ method: 'PUT', url: `/v1/trees/m/keys/${key}`, payload: Buffer.from('v'), headers: OCTETS })
  }
  await server.inject({ method: 'GET', url: '/v1/trees/m/keys/a' })
  await server.inject({ method: 'GET', url: '/v1/trees/m/keys/missing' })
  await server.inject({ method: 'GET', url: '/no/such/route' })
  await server.inject({ method: 'GET', url: '/no/such/route/either' })
  const text = await scrape(server)
  const keyRoute = '/v1/trees/:tree/keys/:key'
  t.equal(sample(text, 'http_requests_total', { method: 'PUT', route: keyRoute, status: '200' }), 4, 'four PUTs, one series')
  t.equal(sample(text, 'http_requests_total', { method: 'GET', route: keyRoute, status: '200' }), 1)
  t.equal(sample(text, 'http_requests_total', { method: 'GET', route: keyRoute, status: '404' }), 1)
  t.equal(sample(text, 'http_requests_total', { method: 'PUT', route: '/v1/trees/:tree', status: '201' }), 1)
  t.equal(sample(text, 'http_requests_total', { method: 'GET', route: UNMATCHED_ROUTE, status: '404' }), 2, 'unknown paths share one label')
  t.notMatch(text, '/no/such/route', 'no raw URL in any label')
  t.notMatch(text, 'slash', 'no key bytes in any label')
  t.equal(sample(text, 'http_request_duration_seconds_count', { method: 'PUT', route: keyRoute }), 4)
  t.equal(sample(text, 'http_request_duration_seconds_bucket', { method: 'PUT', route: keyRoute, le: '+Inf' }), 4)
  const sum = sample(text, 'http_request_duration_seconds_sum', { method: 'PUT', route: keyRoute })
  t.ok(sum !== undefined && sum > 0 && sum < 10, `latency sum ${sum} s`)
  t.match(text, /^process_cpu_user_seconds_total /m, 'process metrics')
})

t.test('per-tree reads and writes, and engine figures from stats()', async (t) => {
  const server = await app()
  await server.inject({ method: 'PUT', url: '/v1/trees/t1' })
  await server.inject({ method: 'PUT', url: '/v1/trees/t2' })
  const value = Buffer.alloc(1000, 0x61)
  let seqno = 0
  for (let i = 0; i < 200; i++) {
    const put = await server.inject({ method: 'PUT', url: `/v1/trees/t1/keys/k${String(i).padStart(4, '0')}`, payload: value, headers: OCTETS })
    seqno = put.json().seqno
  }
  await server.inject({ method: 'POST', url: '/v1/trees/t1/batch', payload: { ops: [{ type: 'put', key: 'x', value: 'y' }, { type: 'delete', key: 'k0000' }] } })
  await server.inject({ method: 'DELETE', url: '/v1/trees/t1/keys/k0001' })
  for (let i = 0; i < 5; i++) await server.inject({ method: 'GET', url: `/v1/trees/t1/keys/k${String(100 + i).padStart(4, '0')}` })
  await server.inject({ method: 'GET', url: '/v1/trees/t1/scan?limit=10' })
  await server.inject({ method: 'POST', url: '/v1/trees/t1/flush' })
  await server.inject({ method: 'POST', url: '/v1/trees/t1/compact' })
  for (let i = 0; i < 5; i++) await server.inject({ method: 'GET', url: `/v1/trees/t1/keys/k${String(150 + i).padStart(4, '0')}` })

  const text = await scrape(server)
  t.equal(sample(text, 'strata_tree_writes_total', { tree: 't1' }), 202, '200 puts + 1 batch + 1 delete')
  t.equal(sample(text, 'strata_tree_reads_total', { tree: 't1' }), 11, '10 gets + 1 scan page')
  t.equal(sample(text, 'strata_tree_seqno', { tree: 't1' }), seqno + 2, 'seqno: the batch and the delete after the last put')
  t.equal(sample(text, 'strata_tree_seqno', { tree: 't2' }), 0, 'an empty tree is exported too')
  t.ok((sample(text, 'strata_flushes_total', { tree: 't1' }) ?? 0) >= 1, 'flushes')
  t.ok((sample(text, 'strata_compactions_total', { tree: 't1' }) ?? 0) >= 1, 'compactions')
  t.ok((sample(text, 'strata_flush_bytes_total', { tree: 't1' }) ?? 0) > 100_000, 'flush bytes')
  t.ok((sample(text, 'strata_compaction_bytes_total', { tree: 't1' }) ?? 0) > 100_000, 'compaction bytes')
  t.ok((sample(text, 'strata_tree_disk_bytes', { tree: 't1' }) ?? 0) > 100_000, 'disk bytes')
  t.ok(sample(text, 'strata_tree_memtable_bytes', { tree: 't1' }) !== undefined, 'memtable bytes')
  t.ok((sample(text, 'strata_tree_tables', { tree: 't1' }) ?? 0) >= 1, 'tables')
  t.equal(sample(text, 'strata_tree_degraded', { tree: 't1' }), 0)
  const ratio = sample(text, 'strata_block_cache_hit_ratio', { tree: 't1' })
  t.ok(ratio !== undefined && ratio >= 0 && ratio <= 1, `cache hit ratio ${ratio}`)
  const stats = (await server.inject({ method: 'GET', url: '/v1/trees/t1' })).json() as TreeStats
  t.equal(sample(text, 'strata_block_cache_hits_total', { tree: 't1' }), stats.cache.hits, 'cache hits as in stats()')
  // Group commit: the requests came one at a time, so each write was its own group and fsync.
  t.equal(sample(text, 'strata_commit_writes_total', { tree: 't1' }), 202, 'every write committed')
  t.equal(sample(text, 'strata_commit_groups_total', { tree: 't1' }), 202, 'one group per sequential write')
  t.equal(sample(text, 'strata_wal_syncs_total', { tree: 't1' }), 202, "sync 'always': one fsync per group")
  t.equal(sample(text, 'strata_wal_syncs_total', { tree: 't2' }), 0, 'no writes, no fsyncs')

  t.equal((await server.inject({ method: 'DELETE', url: '/v1/trees/t1' })).statusCode, 204)
  const after = await scrape(server)
  t.equal(sample(after, 'strata_tree_seqno', { tree: 't1' }), undefined, 'a dropped tree has no engine series')
  t.equal(sample(after, 'strata_tree_writes_total', { tree: 't1' }), undefined, 'nor request counters')
  t.equal(sample(after, 'strata_tree_seqno', { tree: 't2' }), 0, 'the other tree stays')
})

t.test('one registry per app', async (t) => {
  const first = await app()
  const second = await app()
  await first.inject({ method: 'PUT', url: '/v1/trees/only-first' })
  t.match(await scrape(first), 'tree="only-first"')
  t.notMatch(await scrape(second), 'only-first')
  t.not(first.metrics.registry, second.metrics.registry)
})

t.test('the plugin alone: stats read once per tree per scrape, failures skipped', async (t) => {
  const server = Fastify()
  await server.register(metricsPlugin, { processMetrics: false })
  server.get('/x/:id', async () => 'ok')
  t.teardown(() => server.close())
  let reads = 0
  const stats = { seqno: 7, flushes: 1, compactions: 2, bytesFlushed: 3, bytesCompacted: 4, diskBytes: 5, memtableBytes: 6, tables: 1, backgroundError: null, cache: { hits: 3, misses: 1 }, commits: { groups: 2, batches: 9, walSyncs: 2 } }
  server.metrics.setTreeSource(() => [
    { name: 'fake', stats: () => { reads += 1; return stats as unknown as TreeStats } },
    { name: 'closing', stats: () => { throw new Error('closed') } },
  ])
  await server.inject({ method: 'GET', url: '/x/1' })
  server.metrics.treeReads('fake', 3)
  server.metrics.treeWrites('fake')
  const text = await server.metrics.registry.metrics()
  t.equal(reads, 1, 'one stats() call for the whole scrape')
  t.equal(sample(text, 'strata_tree_seqno', { tree: 'fake' }), 7)
  t.equal(sample(text, 'strata_block_cache_hit_ratio', { tree: 'fake' }), 0.75)
  t.equal(sample(text, 'strata_compaction_bytes_total', { tree: 'fake' }), 4)
  t.equal(sample(text, 'strata_commit_writes_total', { tree: 'fake' }), 9)
  t.equal(sample(text, 'strata_wal_syncs_total', { tree: 'fake' }), 2)
  t.equal(sample(text, 'strata_tree_seqno', { tree: 'closing' }), undefined, 'a tree whose stats() throws is skipped')
  t.equal(sample(text, 'strata_tree_reads_total', { tree: 'fake' }), 3)
  t.equal(sample(text, 'strata_tree_writes_total', { tree: 'fake' }), 1)
  t.equal(sample(text, 'http_requests_total', { method: 'GET', route: '/x/:id', status: '200' }), 1)
  t.notMatch(text, /^process_/m, 'processMetrics: false')
  t.ok(server.metrics.routes().some((r) => r.method === 'GET' && r.url === '/x/:id'), 'routes() lists the route')
  t.ok(server.metrics.routes().some((r) => r.method === 'HEAD' && r.url === '/x/:id'), 'and its automatic HEAD')
  await new Promise((resolve) => setImmediate(resolve))
  await server.metrics.registry.metrics()
  t.equal(reads, 2, 'a later scrape reads stats() again')
  t.equal(cacheHitRatio({ cache: { hits: 0, misses: 0 } } as TreeStats), 0, 'no lookups: ratio 0')
})

t.test('route metrics: cumulative buckets, sum and count, as prom-client exports them', async (t) => {
  const { Registry, Histogram, Counter } = await import('prom-client')
  const { RouteMetrics } = await import('../../src/http/plugins/route-metrics.js')
  const bounds = [0.001, 0.01, 0.1]
  const ours = new Registry()
  const route = new RouteMetrics(bounds)
  route.register(ours, { counter: { name: 'req_total', help: 'h' }, histogram: { name: 'dur_seconds', help: 'h' } })
  const theirs = new Registry()
  const counter = new Counter({ name: 'req_total', help: 'h', labelNames: ['method', 'route', 'status'], registers: [theirs] })
  const histogram = new Histogram({ name: 'dur_seconds', help: 'h', labelNames: ['method', 'route'], buckets: bounds, registers: [theirs] })
  const observations: [string, string, number, number][] = [
    ['GET', '/a', 200, 0.0005], ['GET', '/a', 200, 0.001], ['GET', '/a', 404, 0.05], ['GET', '/a', 200, 3],
    ['PUT', '/a', 200, 0.002], ['GET', 'unmatched', 404, 0.0001],
  ]
  for (const [method, path, status, seconds] of observations) {
    route.observe(method, path, status, seconds)
    counter.inc({ method, route: path, status: String(status) })
    histogram.observe({ method, route: path }, seconds)
  }
  const text = await ours.metrics()
  t.equal(text, await theirs.metrics(), 'the same text as prom-client for the same observations')
  t.equal(sample(text, 'dur_seconds_bucket', { method: 'GET', route: '/a', le: '0.001' }), 2, 'a value on a bound counts in it')
  t.equal(sample(text, 'dur_seconds_bucket', { method: 'GET', route: '/a', le: '0.1' }), 3)
  t.equal(sample(text, 'dur_seconds_bucket', { method: 'GET', route: '/a', le: '+Inf' }), 4)
  t.equal(sample(text, 'req_total', { method: 'GET', route: '/a', status: '404' }), 1)
  ours.resetMetrics()
  t.notMatch(await ours.metrics(), 'route="/a"', 'reset empties the series')
  t.throws(() => new RouteMetrics([0.1, 0.1]), TypeError)
})
