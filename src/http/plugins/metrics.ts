/**
 * Metrics plugin: one prom-client Registry per app (never the global one, so a test process can
 * build many apps), request counters and latency histograms recorded in onResponse, per-tree
 * read/write counters the key routes bump, and per-tree engine figures read from each tree's
 * stats() at scrape time. /metrics itself is served by routes/service.ts.
 *
 * Exposes `app.metrics` (AppMetrics). The plugin skips Fastify's encapsulation (the
 * `skip-override` symbol, what fastify-plugin sets), so the decorator and its hooks cover every
 * route of the app: register it FIRST. Its onRoute hook also records every route registered
 * after it (`app.metrics.routes()`), which the OpenAPI sync test compares with openapi.yaml.
 *
 * Invariants:
 * - Label values are bounded: `route` is the route's pattern (`/v1/trees/:tree/keys/:key`), never
 *   the raw URL, and `unmatched` for a 404 on an unknown path; `tree` is a name the catalog
 *   holds (routes count only requests that reached a tree). No key bytes in any label.
 * - Engine figures are read at scrape time (collect), never cached between scrapes; one scrape
 *   reads each tree's stats() once (memoised for the current turn of the event loop).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { TreeStats } from '../../engine/index.js'
import { RouteMetrics } from './route-metrics.js'

/** Latency buckets in seconds: 0.5 ms (a memtable hit) to 10 s (a body at the limit on a slow link). */
export const REQUEST_SECONDS_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]
/** The `route` label of a request no route matched (bounds the label set against URL scans). */
export const UNMATCHED_ROUTE = 'unmatched'

/** Where the scrape-time gauges read trees from: one entry per open tree. */
export type TreeStatsSource = () => Iterable<{ name: string; stats: () => TreeStats }>

export interface AppMetrics {
  /** The app's own registry: `await registry.metrics()` is the Prometheus text. */
  readonly registry: Registry
  /** Counts `count` (default 1) read requests served by `tree` (a key GET/HEAD, a scan page). */
  treeReads(tree: string, count?: number): void
  /** Counts `count` (default 1) write requests applied to `tree` (put, delete, merge, batch...). */
  treeWrites(tree: string, count?: number): void
  /** Drops a dropped tree's series so they stop being exported. */
  forgetTree(tree: string): void
  /** Sets where the per-tree engine gauges read from (routes/service.ts binds the catalog). */
  setTreeSource(source: TreeStatsSource): void
  /** Every route registered after this plugin (the openapi sync test compares them with the document). */
  routes(): readonly RouteInfo[]
}

/** A registered route, as the onRoute hook saw it (automatic HEAD routes of GETs included). */
export interface RouteInfo {
  method: string
  /** Fastify syntax: `/v1/trees/:tree`. */
  url: string
  /** `config.role` (plugins/auth.ts), if the route set one. */
  role: string | undefined
}

export interface MetricsPluginOptions {
  /** Also export prom-client's process metrics (CPU, memory, event-loop lag). Default true. */
  processMetrics?: boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: AppMetrics
  }
}

interface TreeFigures {
  name: string
  stats: TreeStats
}

/** Engine figures exported per tree, each read from stats() at scrape time. */
const TREE_COUNTERS: readonly { name: string; help: string; read: (s: TreeStats) => number }[] = [
  { name: 'strata_flushes_total', help: 'Memtable flushes since the tree was opened', read: (s) => s.flushes },
  { name: 'strata_compactions_total', help: 'Compactions since the tree was opened', read: (s) => s.compactions },
  { name: 'strata_flush_bytes_total', help: 'Bytes written by flushes since the tree was opened', read: (s) => s.bytesFlushed },
  { name: 'strata_compaction_bytes_total', help: 'Bytes written by compactions since the tree was opened', read: (s) => s.bytesCompacted },
  { name: 'strata_block_cache_hits_total', help: 'Block cache hits since the tree was opened', read: (s) => s.cache.hits },
  { name: 'strata_block_cache_misses_total', help: 'Block cache misses since the tree was opened', read: (s) => s.cache.misses },
  { name: 'strata_commit_groups_total', help: 'Commit groups (one WAL append each) since the tree was opened', read: (s) => s.commits.groups },
  { name: 'strata_commit_writes_total', help: 'Write batches committed in those groups since the tree was opened', read: (s) => s.commits.batches },
  { name: 'strata_wal_syncs_total', help: "WAL fsyncs commits waited for (sync 'always'); writes / syncs is group commit's sharing", read: (s) => s.commits.walSyncs },
]
const TREE_GAUGES: readonly { name: string; help: string; read: (s: TreeStats) => number }[] = [
  { name: 'strata_tree_seqno', help: 'Newest durable sequence number of the tree', read: (s) => s.seqno },
  { name: 'strata_block_cache_hit_ratio', help: 'Block cache hits / lookups since open (0 before any lookup)', read: cacheHitRatio },
  { name: 'strata_tree_disk_bytes', help: 'Bytes of the tables of the current version', read: (s) => s.diskBytes },
  { name: 'strata_tree_memtable_bytes', help: 'Approximate bytes held in memtables', read: (s) => s.memtableBytes },
  { name: 'strata_tree_tables', help: 'Tables in the current version', read: (s) => s.tables },
  { name: 'strata_tree_degraded', help: '1 when a background failure made the tree read-only', read: (s) => (s.backgroundError === null ? 0 : 1) },
]

export function cacheHitRatio(stats: TreeStats): number {
  const lookups = stats.cache.hits + stats.cache.misses
  return lookups === 0 ? 0 : stats.cache.hits / lookups
}

/** Reads every tree's stats once per turn of the event loop (one scrape = one read per tree). */
function memoisedFigures(getSource: () => TreeStatsSource | undefined): () => TreeFigures[] {
  let cached: TreeFigures[] | undefined
  return () => {
    if (cached !== undefined) return cached
    const source = getSource()
    const figures: TreeFigures[] = []
    if (source !== undefined) {
      for (const entry of source()) {
        try {
          figures.push({ name: entry.name, stats: entry.stats() })
        } catch {
          // A tree closing under the scrape: it is simply absent from this scrape.
        }
      }
    }
    cached = figures
    setImmediate(() => { cached = undefined })
    return figures
  }
}

function registerTreeFigures(registry: Registry, figures: () => TreeFigures[]): void {
  for (const spec of TREE_COUNTERS) {
    new Counter({
      name: spec.name, help: spec.help, labelNames: ['tree'], registers: [registry],
      collect() {
        this.reset()
        for (const f of figures()) this.inc({ tree: f.name }, spec.read(f.stats))
      },
    })
  }
  for (const spec of TREE_GAUGES) {
    new Gauge({
      name: spec.name, help: spec.help, labelNames: ['tree'], registers: [registry],
      collect() {
        this.reset()
        for (const f of figures()) this.set({ tree: f.name }, spec.read(f.stats))
      },
    })
  }
}

function routeLabel(request: FastifyRequest): string {
  return request.routeOptions.url ?? UNMATCHED_ROUTE
}

interface MetricsParts {
  metrics: AppMetrics
  onResponse: (request: FastifyRequest, reply: FastifyReply) => void
  onRoute: (route: RouteOptions) => void
}

function createMetrics(options: MetricsPluginOptions): MetricsParts {
  const registry = new Registry()
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry })
  // Counted in plain arrays, not prom-client's Counter/Histogram: see route-metrics.ts.
  const routeMetrics = new RouteMetrics(REQUEST_SECONDS_BUCKETS)
  routeMetrics.register(registry, {
    counter: { name: 'http_requests_total', help: 'HTTP requests answered, by method, route pattern and status' },
    histogram: { name: 'http_request_duration_seconds', help: 'Time from request received to response sent' },
  })
  const reads = new Counter({ name: 'strata_tree_reads_total', help: 'Read requests served, by tree', labelNames: ['tree'], registers: [registry] })
  const writes = new Counter({ name: 'strata_tree_writes_total', help: 'Write requests applied, by tree', labelNames: ['tree'], registers: [registry] })
  let source: TreeStatsSource | undefined
  registerTreeFigures(registry, memoisedFigures(() => source))
  const routes: RouteInfo[] = []

  // Per-tree children cached too (the catalog bounds the tree names); dropped with the tree.
  const readChildren = new Map<string, ReturnType<typeof reads.labels>>()
  const writeChildren = new Map<string, ReturnType<typeof writes.labels>>()
  const child = <C>(cache: Map<string, C>, tree: string, make: () => C): C => {
    let c = cache.get(tree)
    if (c === undefined) {
      c = make()
      cache.set(tree, c)
    }
    return c
  }
  const metrics: AppMetrics = {
    registry,
    treeReads: (tree, count = 1) => child(readChildren, tree, () => reads.labels(tree)).inc(count),
    treeWrites: (tree, count = 1) => child(writeChildren, tree, () => writes.labels(tree)).inc(count),
    forgetTree(tree) {
      readChildren.delete(tree)
      writeChildren.delete(tree)
      reads.remove({ tree })
      writes.remove({ tree })
    },
    setTreeSource(next) { source = next },
    routes: () => routes,
  }
  const onResponse = (request: FastifyRequest, reply: FastifyReply): void => {
    routeMetrics.observe(request.method, routeLabel(request), reply.statusCode, reply.elapsedTime / 1000)
  }
  const onRoute = (route: RouteOptions): void => {
    const role = (route.config as { role?: unknown } | undefined)?.role
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, role: typeof role === 'string' ? role : undefined })
  }
  return { metrics, onResponse, onRoute }
}

async function metricsPluginImpl(app: FastifyInstance, options: MetricsPluginOptions): Promise<void> {
  const { metrics, onResponse, onRoute } = createMetrics(options)
  app.decorate('metrics', metrics)
  app.addHook('onRoute', onRoute)
  // A callback hook, not an async one: no promise per request.
  app.addHook('onResponse', (request, reply, done) => {
    onResponse(request, reply)
    done()
  })
}

/** Register FIRST in buildServer: `await app.register(metricsPlugin)`. */
export const metricsPlugin: FastifyPluginAsync<MetricsPluginOptions> = Object.assign(metricsPluginImpl, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'strata-metrics',
})
