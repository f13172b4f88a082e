/**
 * http-bench: the REAL `strata serve` (dist/cli/main.js, a child process) under autocannon, next
 * to a ceiling: a minimal Fastify server (another child) answering the same GET from a JS Map.
 *
 *   npm run build && npx tsc -p tsconfig.bench.json && node dist-bench/bench/http/http-bench.js
 *   node dist-bench/bench/http/http-bench.js --duration 10 --connections 64 --markdown
 *   node dist-bench/bench/http/http-bench.js --quick          # 2 s per run (smoke)
 *
 * Flags: --duration S (per run, default 10), --connections N (default 64), --quick, --dir DIR
 * (where the data and the fsync probe live; default the OS temp dir: measure the disk you
 * care about), --log-level L (the server's, default warn), --markdown, --cli PATH (the
 * `strata` entry to run, default dist/cli/main.js: point it at another build for an A/B),
 * --runs a,b (only these runs: ceiling, get, put, scan, compact; default all).
 *
 * Runs, in order:
 *   fsync     a loop of 100-byte append + fsync on one file: the disk's fsyncs/s alone
 *   ceiling   GET of a 100-byte value from a Map in a bare Fastify server
 *   get       GET /v1/trees/bench/keys/hot (100-byte value)
 *   put       PUT of 100-byte values under fresh keys, sync 'always' (group commit)
 *   scan      GET /v1/trees/bench/scan?prefix=scan-&limit=100 (100 items of 100 bytes)
 *   get+compact GET while flushes and major compactions run back to back
 * and prints req/s, p50/p99 latency, GET / ceiling and PUT/s / fsyncs/s, and for each run the
 * server's CPU per request (utime + stime of its process from /proc, Linux only: the load
 * generator shares the CPUs, so req/s alone mixes the two) and, for the PUT run, the PUTs
 * acknowledged per WAL fsync (tree.stats().commits through /metrics): what group commit
 * achieves whatever the disk's speed; and the server's event-loop delay (p99, max) over each
 * run, which tells what blocked the loop apart from the CPUs the load generator takes.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { createRequire } from 'node:module'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

/** What autocannon (no bundled types) is used for here. */
interface AutocannonRequest { method?: string; path?: string; body?: string | Buffer; headers?: Record<string, string>; setupRequest?: (request: AutocannonRequest) => AutocannonRequest }
interface AutocannonOptions { url: string; connections: number; duration: number; pipelining?: number; method?: string; body?: string | Buffer; headers?: Record<string, string>; requests?: AutocannonRequest[] }
interface AutocannonResult { duration: number; errors: number; timeouts: number; non2xx: number; requests: { total: number }; latency: { p50: number; p99: number; average: number }; totalCompletedRequests?: number }
const autocannon = createRequire(import.meta.url)('autocannon') as (options: AutocannonOptions) => Promise<AutocannonResult>

const VALUE_BYTES = 100
const SCAN_ITEMS = 100
/** Keys loaded for the scan run (more than one page, so the scan has a cursor to make). */
const SCAN_KEYS = 1_000
const TREE = 'bench'
/** Unmeasured seconds before each run: connections open, JIT and caches warm. */
const WARMUP_SECONDS = 1
/** Seconds the fsync probe runs. */
const FSYNC_PROBE_SECONDS = 3
const DEFAULT_CLI = join(repoRoot(), 'dist/cli/main.js')
/** Linux reports process CPU times in clock ticks of 1/100 s (USER_HZ). */
const CLOCK_TICKS_PER_SECOND = 100
const RUN_NAMES = ['ceiling', 'get', 'put', 'scan', 'compact'] as const
type RunName = (typeof RUN_NAMES)[number]

/** The nearest directory above this file holding package.json (source or dist-bench/ alike). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}

export interface BenchRow {
  name: string
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  errors: number
  non2xx: number
  /** Requests answered in the measured window (2xx or not). */
  completed: number
  /** CPU seconds (user + system) the server process spent in the measured window; NaN off Linux. */
  serverCpuSeconds: number
  /** The server's event-loop delay over the measured run (prom-client's monitor, 10 ms resolution); NaN for the ceiling. */
  loopDelayP99Ms: number
  loopDelayMaxMs: number
}

interface Config { durationSeconds: number; connections: number; dir: string; logLevel: string; markdown: boolean; cli: string; runs: ReadonlySet<RunName> }

function parseConfig(argv: string[]): Config {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      duration: { type: 'string' }, connections: { type: 'string' }, quick: { type: 'boolean' },
      dir: { type: 'string' }, 'log-level': { type: 'string' }, markdown: { type: 'boolean' }, 'ceiling-server': { type: 'boolean' },
      cli: { type: 'string' }, runs: { type: 'string' },
    },
  })
  const duration = Number(values.duration ?? (values.quick === true ? 2 : 10))
  const connections = Number(values.connections ?? 64)
  if (!Number.isInteger(duration) || duration < 1) throw new Error('--duration needs an integer >= 1')
  if (!Number.isInteger(connections) || connections < 1) throw new Error('--connections needs an integer >= 1')
  const runs = (values.runs ?? RUN_NAMES.join(',')).split(',').map((r) => r.trim())
  for (const r of runs) if (!(RUN_NAMES as readonly string[]).includes(r)) throw new Error(`--runs takes ${RUN_NAMES.join(', ')}; got '${r}'`)
  return {
    durationSeconds: duration, connections, dir: values.dir ?? tmpdir(), logLevel: values['log-level'] ?? 'warn', markdown: values.markdown === true,
    cli: resolve(values.cli ?? DEFAULT_CLI), runs: new Set(runs as RunName[]),
  }
}

/**
 * The ceiling: bare Fastify, the same route shape and the same answer as the server's GET (the
 * value as application/octet-stream with `x-request-id` and `x-seqno`), the value from a Map:
 * no validation, auth, metrics, logging or engine.
 */
async function runCeilingServer(): Promise<void> {
  const { default: Fastify } = await import('fastify')
  const values = new Map<string, Buffer>([['hot', Buffer.alloc(VALUE_BYTES, 0x76)]])
  const app = Fastify({ logger: false, genReqId: () => randomUUID() })
  app.get<{ Params: { tree: string; key: string } }>('/v1/trees/:tree/keys/:key', async (request, reply) => {
    reply.header('x-request-id', request.id)
    const value = values.get(request.params.key)
    if (value === undefined) return reply.code(404).send({ statusCode: 404, code: 'KEY_NOT_FOUND', error: 'Not Found', message: 'no such key' })
    return reply.header('x-seqno', '1').type('application/octet-stream').send(value)
  })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  process.stderr.write(`ceiling: listening on ${url}\n`)
  process.once('SIGTERM', () => { void app.close().then(() => process.exit(0)) })
}

/** Appends + fsyncs 100 bytes in a loop for a few seconds: the disk's fsyncs/s alone. */
export function measureFsyncsPerSecond(dir: string, seconds = FSYNC_PROBE_SECONDS): number {
  const path = join(dir, 'fsync-probe')
  const fd = openSync(path, 'a')
  const chunk = Buffer.alloc(VALUE_BYTES, 0x66)
  const started = process.hrtime.bigint()
  const deadline = started + BigInt(seconds * 1e9)
  let count = 0
  try {
    while (process.hrtime.bigint() < deadline) {
      writeSync(fd, chunk)
      fsyncSync(fd)
      count += 1
    }
  } finally {
    closeSync(fd)
    rmSync(path, { force: true })
  }
  return count / (Number(process.hrtime.bigint() - started) / 1e9)
}

async function startChild(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  const url = await new Promise<string>((resolve, reject) => {
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      const match = /listening on (\S+)/.exec(stderr)
      if (match !== null) resolve(match[1]!)
    })
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}:\n${stderr}`)))
  })
  return { child, url }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

async function call(url: string, init: RequestInit): Promise<unknown> {
  const response = await fetch(url, init)
  const text = await response.text()
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${response.status} ${text}`)
  return text === '' ? undefined : JSON.parse(text)
}

/** The tree, the hot key, and SCAN_KEYS keys under `scan-` for the scan run. */
async function load(url: string): Promise<void> {
  const json = { 'content-type': 'application/json' }
  await call(`${url}/v1/trees/${TREE}`, { method: 'PUT', headers: json, body: JSON.stringify({ sync: 'always' }) })
  await call(`${url}/v1/trees/${TREE}/keys/hot`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(VALUE_BYTES, 0x76) })
  const value = 'v'.repeat(VALUE_BYTES)
  const ops = Array.from({ length: SCAN_KEYS }, (_, i) => ({ type: 'put', key: `scan-${String(i).padStart(6, '0')}`, value }))
  await call(`${url}/v1/trees/${TREE}/batch`, { method: 'POST', headers: json, body: JSON.stringify({ ops }) })
}

/** CPU seconds (user + system) process `pid` has used, from /proc; NaN where there is none. */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // Fields after the command name (which may hold spaces, so split after its closing paren).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND // utime, stime (fields 14, 15)
  } catch {
    return Number.NaN
  }
}

interface Measured extends BenchRow {
  /** strata_wal_syncs_total of the bench tree over the measured run (NaN for the ceiling). */
  walSyncs: number
}

/**
 * Runs the warm-up, then the measured run. For the Strata server (`metricsUrl` given) /metrics
 * is scraped just before and just after the measured run: the WAL fsyncs are the difference,
 * and the event-loop delay figures (prom-client resets its delay histogram at each scrape) are
 * those of the run alone.
 */
async function measure(name: string, server: ChildProcess, options: AutocannonOptions, metricsUrl?: string): Promise<Measured> {
  await autocannon({ ...options, duration: WARMUP_SECONDS })
  const before = metricsUrl === undefined ? undefined : await scrape(metricsUrl)
  const cpuBefore = processCpuSeconds(server.pid)
  const result = await autocannon(options)
  const serverCpuSeconds = processCpuSeconds(server.pid) - cpuBefore
  const after = metricsUrl === undefined ? undefined : await scrape(metricsUrl)
  const completed = result.totalCompletedRequests ?? result.requests.total
  const syncs = (text: string | undefined): number => (text === undefined ? Number.NaN : metricValue(text, 'strata_wal_syncs_total', `{tree="${TREE}"}`))
  return {
    name,
    requestsPerSecond: completed / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    completed,
    serverCpuSeconds,
    loopDelayP99Ms: after === undefined ? Number.NaN : metricValue(after, 'nodejs_eventloop_lag_p99_seconds', '') * 1000,
    loopDelayMaxMs: after === undefined ? Number.NaN : metricValue(after, 'nodejs_eventloop_lag_max_seconds', '') * 1000,
    walSyncs: syncs(after) - syncs(before),
  }
}

async function scrape(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text()
}

/** The sample `name` + `labels` (`{tree="bench"}` or '') in Prometheus text; 0 when absent. */
function metricValue(text: string, name: string, labels: string): number {
  const escaped = `${name}${labels}`.replace(/[{}"]/g, (c) => `\\${c}`)
  const match = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text)
  return match === null ? 0 : Number(match[1])
}

/** Flush + major compaction back to back until `stopped()`; returns how many compactions ran. */
async function compactLoop(url: string, stopped: () => boolean): Promise<number> {
  let compactions = 0
  let i = 0
  while (!stopped()) {
    const ops = Array.from({ length: 500 }, (_, j) => ({ type: 'put', key: `churn-${String(j).padStart(4, '0')}`, value: `${i}`.padEnd(VALUE_BYTES, 'c') }))
    await call(`${url}/v1/trees/${TREE}/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ops }) })
    await call(`${url}/v1/trees/${TREE}/flush`, { method: 'POST' })
    await call(`${url}/v1/trees/${TREE}/compact`, { method: 'POST' })
    compactions += 1
    i += 1
  }
  return compactions
}

interface Extras { fsyncsPerSecond: number; walSyncs: number; compactions: number }

/** `n` with a fixed number of decimals, or `-` when unknown. */
function figure(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-'
}

function formatTable(rows: BenchRow[], extras: Extras, config: Config): string[] {
  const ceiling = rows.find((r) => r.name === 'ceiling GET (Map)')
  const put = rows.find((r) => r.name === 'PUT 100 B, sync always')
  const lines = [
    `| run | req/s | p50 ms | p99 ms | errors | non-2xx | vs ceiling | server CPU us/req | req/s per server CPU | loop delay p99/max ms |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
  ]
  for (const r of rows) {
    const ratio = ceiling === undefined || r === ceiling || !r.name.startsWith('GET') ? '' : `${(r.requestsPerSecond / ceiling.requestsPerSecond).toFixed(2)}x`
    const cpuPerRequest = r.serverCpuSeconds / r.completed
    lines.push(`| ${r.name} | ${Math.round(r.requestsPerSecond)} | ${r.p50Ms} | ${r.p99Ms} | ${r.errors} | ${r.non2xx} | ${ratio} | ${figure(cpuPerRequest * 1e6)} | ${figure(1 / cpuPerRequest)} | ${figure(r.loopDelayP99Ms, 1)} / ${figure(r.loopDelayMaxMs, 1)} |`)
  }
  lines.push('')
  lines.push(`disk alone: ${Math.round(extras.fsyncsPerSecond)} fsyncs/s (${VALUE_BYTES}-byte append + fsync, one file, ${FSYNC_PROBE_SECONDS} s)`)
  if (put !== undefined) {
    lines.push(`PUT/s / fsyncs/s = ${(put.requestsPerSecond / extras.fsyncsPerSecond).toFixed(1)}x (group commit, bounded by the disk)`)
    const acknowledged = put.completed - put.non2xx
    lines.push(`PUTs acknowledged per WAL fsync = ${figure(acknowledged / extras.walSyncs, 1)} (${acknowledged} PUTs, ${extras.walSyncs} fsyncs: group commit's sharing, whatever the disk)`)
  }
  if (config.runs.has('compact')) lines.push(`compactions during 'GET during compaction': ${extras.compactions}`)
  lines.push(`${config.connections} connections, ${config.durationSeconds} s per run after ${WARMUP_SECONDS} s of warm-up, server --log-level ${config.logLevel}, ${config.cli}`)
  lines.push(`${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end, Node ${process.version}`)
  return lines
}

export async function runBench(config: Config): Promise<string[]> {
  if (!existsSync(config.cli)) throw new Error(`${config.cli} is missing: run \`npm run build\` first`)
  const workDir = mkdtempSync(join(config.dir, 'strata-http-bench-'))
  const children: ChildProcess[] = []
  try {
    const fsyncsPerSecond = config.runs.has('put') ? measureFsyncsPerSecond(workDir) : Number.NaN
    const strata = await startChild([config.cli, 'serve', '--data', join(workDir, 'data'), '--port', '0', '--sync', 'always', '--log-level', config.logLevel])
    children.push(strata.child)
    await load(strata.url)
    const base = { connections: config.connections, duration: config.durationSeconds }
    const rows: BenchRow[] = []
    if (config.runs.has('ceiling')) {
      const ceiling = await startChild([fileURLToPath(import.meta.url), '--ceiling-server'])
      children.push(ceiling.child)
      rows.push(await measure('ceiling GET (Map)', ceiling.child, { ...base, url: `${ceiling.url}/v1/trees/${TREE}/keys/hot` }))
      await stop(ceiling.child) // idle from here on, but no process should share the CPUs
    }
    if (config.runs.has('get')) rows.push(await measure('GET 100 B', strata.child, { ...base, url: `${strata.url}/v1/trees/${TREE}/keys/hot` }, strata.url))
    let walSyncs = Number.NaN
    if (config.runs.has('put')) {
      let next = 0
      const row = await measure('PUT 100 B, sync always', strata.child, {
        ...base, url: strata.url,
        requests: [{
          method: 'PUT', body: Buffer.alloc(VALUE_BYTES, 0x70), headers: { 'content-type': 'application/octet-stream' },
          setupRequest: (request) => ({ ...request, path: `/v1/trees/${TREE}/keys/put-${String(next++).padStart(9, '0')}` }),
        }],
      }, strata.url)
      walSyncs = row.walSyncs
      rows.push(row)
    }
    if (config.runs.has('scan')) rows.push(await measure(`scan ${SCAN_ITEMS} items`, strata.child, { ...base, url: `${strata.url}/v1/trees/${TREE}/scan?prefix=scan-&limit=${SCAN_ITEMS}` }, strata.url))
    let compactions = 0
    if (config.runs.has('compact')) {
      let stopped = false
      const churn = compactLoop(strata.url, () => stopped)
      rows.push(await measure('GET 100 B during compaction', strata.child, { ...base, url: `${strata.url}/v1/trees/${TREE}/keys/hot` }, strata.url))
      stopped = true
      compactions = await churn
    }
    return formatTable(rows, { fsyncsPerSecond, walSyncs, compactions }, config)
  } finally {
    await Promise.all(children.map(stop))
    rmSync(workDir, { recursive: true, force: true })
  }
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--ceiling-server')) return runCeilingServer()
  const config = parseConfig(argv)
  const lines = await runBench(config)
  const text = lines.join('\n')
  process.stdout.write(config.markdown ? `\n${text}\n` : `${text}\n`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`http-bench: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  })
}
