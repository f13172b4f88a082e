/**
 * replication-bench: the REAL `strata serve` and `strata follow` (dist/cli/main.js, child
 * processes) on loopback.
 *
 *   npm run bench:replication                                     # 1 GiB tree (the issue's size)
 *   node dist-bench/bench/replication/replication-bench.js --size-mib 256 --markdown
 *   node dist-bench/bench/replication/replication-bench.js --quick   # 64 MiB, short lag runs
 *
 * Flags: --size-mib N (default 1024), --lag-seconds N (default 30), --rate N writes/s (default
 * 2000), --flush-seconds N (the leader's flush interval in the no-WAL run, default 5),
 * --bootstrap-mbps N (--max-transfer-mbps of the follower during the latency run, default 200),
 * --warmup-seconds N (default 2), --dir DIR, --quick, --markdown, --keep, --cli PATH (the strata CLI to run, default
 * dist/cli/main.js: point it at your own build for an A/B), --parts LIST (comma-separated of
 * bootstrap, lag-nowal, lag-wal, get; default all of them).
 *
 * Measures:
 *   bootstrap       follower log "bootstrapping" -> "bootstrap complete" (checkpoint + SHA-256 on
 *                   the leader, stream, SHA-256 + fsync + open on the follower), vs the same
 *                   files as `tar -cf - | TCP loopback | tar -xf - && sync` (goal: <= 1.3x)
 *   lag             PUTs at --rate for --warmup-seconds (default 2, not counted) + --lag-seconds;
 *                   X-Seqno of a read polled back to back (1 ms pause) on the leader and on the
 *                   follower from a worker thread; lag of a write = when a follower read first
 *                   shows its seqno - when a leader read last did not (an upper bound of the
 *                   time between being readable on the leader and on the follower). Without --wal the leader flushes
 *                   every --flush-seconds (goal: <= flush interval + 1 s); with --wal (goal:
 *                   p99 < 200 ms)
 *   leader GET p99  GETs of random keys at 400/s on the leader, idle, then during a follower
 *                   bootstrap at --bootstrap-mbps (goal: < 2x idle)
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { cpus, freemem, loadavg, totalmem, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'

import { Agent, request } from 'undici'

import { Tree } from '../../src/engine/index.js'

const MiB = 1024 * 1024
const VALUE_BYTES = 4096
const TOKEN = 'replication-bench-admin-token-0001'
/** Keys the lag writers use. */
const KEYS = 100_000

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}
let CLI = join(repoRoot(), 'dist/cli/main.js')
const agent = new Agent({ connections: 64 })

interface Row {
  what: string
  value: string
  note: string
}

interface Proc {
  child: ChildProcess
  url: string
  stdout: () => string
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

async function start(args: string[]): Promise<Proc> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout!.on('data', (c: Buffer) => { out += c.toString() })
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString()
      const m = /listening on (\S+)/.exec(err)
      if (m !== null) resolve(m[1]!)
    })
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)))
  })
  return { child, url, stdout: () => out }
}

async function stop(p: Proc | undefined): Promise<void> {
  if (p === undefined || p.child.exitCode !== null) return
  p.child.kill('SIGTERM')
  await new Promise((r) => p.child.once('exit', r))
}

async function call(method: 'GET' | 'PUT' | 'POST', url: string, body?: string): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const res = await request(url, { method, dispatcher: agent, headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/octet-stream' }) }, ...(body === undefined ? {} : { body }) })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

async function buildTree(dir: string, sizeBytes: number): Promise<{ tables: number; bytes: number; keys: number }> {
  const tree = await Tree.open(dir, { sync: 'none', tableBytes: 4 * MiB, memtableBytes: 64 * MiB })
  const text = Buffer.alloc(VALUE_BYTES - 1024, 'strata replication bench value; ')
  const count = Math.ceil(sizeBytes / VALUE_BYTES)
  for (let i = 0; i < count; i += 256) {
    const batch = tree.batch()
    for (let j = i; j < Math.min(count, i + 256); j++) batch.put(`key-${String(j).padStart(10, '0')}`, Buffer.concat([randomBytes(1024), text]))
    await batch.write()
  }
  await tree.flush()
  await tree.compact()
  const s = tree.stats()
  await tree.close()
  return { tables: s.tables, bytes: s.diskBytes, keys: count }
}

function logTime(stdout: string, pattern: RegExp): number | undefined {
  for (const line of stdout.split('\n')) {
    if (pattern.test(line)) return (JSON.parse(line) as { time: number }).time
  }
  return undefined
}

/** tar of `dir` through a loopback TCP connection into `tar -x` in `target`, then sync: seconds. */
async function rawTarSeconds(dir: string, target: string): Promise<number> {
  mkdirSync(target, { recursive: true })
  const started = performance.now()
  await new Promise<void>((resolve, reject) => {
    const server = createServer((socket) => {
      const untar = spawn('tar', ['-xf', '-', '-C', target], { stdio: ['pipe', 'ignore', 'inherit'] })
      socket.pipe(untar.stdin!)
      untar.once('exit', (code) => {
        server.close()
        if (code === 0) resolve()
        else reject(new Error(`tar -x exited ${code}`))
      })
    }).listen(0, '127.0.0.1', () => {
      const tar = spawn('tar', ['-cf', '-', '-C', dir, '.'], { stdio: ['ignore', 'pipe', 'inherit'] })
      tar.stdout!.pipe(connect((server.address() as { port: number }).port, '127.0.0.1'))
    })
  })
  await new Promise((r) => spawn('sync').once('exit', r))
  return (performance.now() - started) / 1000
}

/** Wall-clock ms with sub-ms resolution, comparable between threads. */
function now(): number {
  return performance.timeOrigin + performance.now()
}

interface Sample {
  seqno: number
  /** When the poll was sent and when its answer arrived (now()). */
  sent: number
  at: number
}

/**
 * The poller, in a worker thread: its own event loop, so the 2,000 PUTs/s of the main thread do
 * not delay its samples (measured before: poll gaps of p99 37 ms, max 320 ms, most of the
 * reported `--wal` lag). Two loops, back to back with a 1 ms pause, read X-Seqno of the same key
 * on the leader and on the follower until told to stop.
 */
async function pollerThread(): Promise<void> {
  const { leader, follower } = workerData as { leader: string; follower: string }
  let running = true
  parentPort!.once('message', () => { running = false })
  async function poll(url: string, report: boolean): Promise<Sample[]> {
    const pollAgent = new Agent({ connections: 1 })
    const samples: Sample[] = []
    while (running) {
      const sent = now()
      const res = await request(url, { dispatcher: pollAgent, headers: { authorization: `Bearer ${TOKEN}` } })
      await res.body.dump()
      samples.push({ seqno: Number(res.headers['x-seqno']), sent, at: now() })
      if (report) parentPort!.postMessage({ latest: samples.at(-1)!.seqno })
      await new Promise((r) => setTimeout(r, 1))
    }
    await pollAgent.close()
    return samples
  }
  const [onLeader, onFollower] = await Promise.all([poll(leader, false), poll(follower, true)])
  parentPort!.postMessage({ onLeader, onFollower })
}

interface LagFigures {
  /** Per write: first follower answer showing its seqno - last leader read not yet showing it (ms). */
  lags: number[]
  /** Per write: first follower answer showing its seqno - the benchmark's receipt of its ack. */
  fromAck: number[]
  /** Gaps between consecutive follower polls (ms): the sampling error. */
  pollGaps: number[]
}

/** The first sample (index) at or after `from` whose seqno is at least `seqno`. */
function firstShowing(samples: Sample[], from: number, seqno: number): number {
  let i = from
  while (i < samples.length && samples[i]!.seqno < seqno) i++
  return i
}

/**
 * Runs PUTs at `rate`/s for `warmup` + `seconds` against the leader while a worker thread polls
 * the seqno reads see (X-Seqno) on the leader and on the follower. The lag of a write is from
 * when it became readable on the leader to when it became readable on the follower, bounded
 * from above: first follower answer showing it - the sending of the last leader read that did
 * not show it. Writes sent during the warm-up (connections opening, JIT) are not counted.
 */
async function lagRun(leader: string, follower: string, tree: string, rate: number, seconds: number, warmup: number, flushSeconds: number | undefined): Promise<LagFigures> {
  const acks: { seqno: number; at: number }[] = []
  const key = `/v1/trees/${tree}/keys/probe`
  const poller = new Worker(fileURLToPath(import.meta.url), { workerData: { leader: `${leader}${key}`, follower: `${follower}${key}` } })
  let latest = 0
  const samples = new Promise<{ onLeader: Sample[]; onFollower: Sample[] }>((resolve, reject) => {
    poller.on('message', (m: { latest?: number; onLeader?: Sample[]; onFollower?: Sample[] }) => {
      if (m.latest !== undefined) latest = m.latest
      if (m.onLeader !== undefined && m.onFollower !== undefined) resolve({ onLeader: m.onLeader, onFollower: m.onFollower })
    })
    poller.once('error', reject)
  })
  const flusher = flushSeconds === undefined ? undefined : setInterval(() => void call('POST', `${leader}/v1/trees/${tree}/flush`), flushSeconds * 1000)
  const started = performance.now()
  const counted = now() + warmup * 1000
  const inflight = new Set<Promise<void>>()
  for (let i = 0; i < rate * (seconds + warmup); i++) {
    const due = started + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    const sent = now()
    const p = call('PUT', `${leader}/v1/trees/${tree}/keys/k${i % KEYS}`, 'x'.repeat(100)).then((res) => {
      if (sent >= counted) acks.push({ seqno: (JSON.parse(res.text) as { seqno: number }).seqno, at: now() })
    })
    inflight.add(p)
    void p.finally(() => inflight.delete(p))
    if (inflight.size > 256) await Promise.race(inflight)
  }
  await Promise.all(inflight)
  if (flusher !== undefined) clearInterval(flusher)
  await call('POST', `${leader}/v1/trees/${tree}/flush`)
  const last = Math.max(...acks.map((a) => a.seqno))
  await until('the follower to catch up', () => latest >= last, 120_000)
  poller.postMessage('stop')
  const { onLeader, onFollower } = await samples
  await poller.terminate()
  const lags: number[] = []
  const fromAck: number[] = []
  let l = 0
  let f = 0
  for (const a of [...acks].sort((x, y) => x.seqno - y.seqno)) {
    l = firstShowing(onLeader, l, a.seqno)
    f = firstShowing(onFollower, f, a.seqno)
    if (f >= onFollower.length) continue
    const visible = onFollower[f]!.at
    fromAck.push(Math.max(0, visible - a.at))
    // The last leader read before the first that showed it (or the first, when none was before).
    const before = onLeader[Math.max(0, l - 1)]
    if (l < onLeader.length && before !== undefined) lags.push(Math.max(0, visible - before.sent))
  }
  const pollGaps = onFollower.slice(1).map((x, i) => x.at - onFollower[i]!.at)
  return { lags, fromAck, pollGaps }
}

/** GET latencies (ms) of random keys at `perSecond` until `done()`. */
async function getLatencies(leader: string, keys: number, perSecond: number, done: () => boolean, minSeconds: number): Promise<number[]> {
  const out: number[] = []
  const started = performance.now()
  let i = 0
  while (!done() || performance.now() - started < minSeconds * 1000) {
    const due = started + (i++ * 1000) / perSecond
    const wait = due - performance.now()
    if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    const t0 = performance.now()
    await call('GET', `${leader}/v1/trees/bench/keys/key-${String(Math.floor(Math.random() * keys)).padStart(10, '0')}`)
    out.push(performance.now() - t0)
  }
  return out
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'size-mib': { type: 'string' }, 'lag-seconds': { type: 'string' }, rate: { type: 'string' }, 'flush-seconds': { type: 'string' },
      'bootstrap-mbps': { type: 'string' }, dir: { type: 'string' }, quick: { type: 'boolean' }, markdown: { type: 'boolean' }, keep: { type: 'boolean' },
      cli: { type: 'string' }, parts: { type: 'string' }, 'warmup-seconds': { type: 'string' },
    },
  })
  if (values.cli !== undefined) CLI = values.cli
  const parts = new Set((values.parts ?? 'bootstrap,lag-nowal,lag-wal,get').split(','))
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`)
  const quick = values.quick === true
  const sizeMiB = quick ? 64 : Number(values['size-mib'] ?? 1024)
  const lagSeconds = quick ? 8 : Number(values['lag-seconds'] ?? 30)
  const warmupSeconds = Number(values['warmup-seconds'] ?? 2)
  const rate = Number(values.rate ?? 2000)
  const flushSeconds = Number(values['flush-seconds'] ?? 5)
  const bootstrapMbps = Number(values['bootstrap-mbps'] ?? 200)
  const root = mkdtempSync(join(values.dir ?? tmpdir(), 'strata-repl-bench-'))
  const log = (line: string) => process.stderr.write(`${line}\n`)
  const rows: Row[] = []
  let leader: Proc | undefined
  let follower: Proc | undefined
  try {
    log(`building a ${sizeMiB} MiB tree in ${root} ...`)
    const built = await buildTree(join(root, 'leader', 'bench'), sizeMiB * MiB)
    rows.push({ what: 'tree', value: `${(built.bytes / MiB).toFixed(0)} MiB, ${built.tables} tables`, note: `${VALUE_BYTES} B values` })
    const tokens = join(root, 'tokens.json')
    writeFileSync(tokens, JSON.stringify([{ token: TOKEN, role: 'admin' }]))
    leader = await start(['serve', '--data', join(root, 'leader'), '--port', '0', '--tokens', tokens, '--sync', 'none', '--log-level', 'warn'])
    await call('PUT', `${leader.url}/v1/trees/lag`)

    // 1. Bootstrap vs raw tar of the same files.
    if (parts.has('bootstrap')) {
      log('bootstrap ...')
      follower = await start(['follow', '--leader', leader.url, '--token', TOKEN, '--data', join(root, 'f1'), '--port', '0', '--trees', 'bench', '--log-level', 'info'])
      await until('the bootstrap', () => /bootstrap complete/.test(follower!.stdout()))
      const out = follower.stdout()
      const bootstrapSeconds = (logTime(out, /bootstrap complete/)! - logTime(out, /bootstrapping from/)!) / 1000
      await stop(follower)
      follower = undefined
      const copy = readdirSync(join(root, 'f1', 'bench')).find((n) => n.startsWith('copy-'))!
      const copyDir = join(root, 'f1', 'bench', copy)
      const copyBytes = readdirSync(copyDir).filter((n) => n.endsWith('.sst')).reduce((n, f) => n + statSync(join(copyDir, f)).size, 0)
      const tarSeconds = Math.min(await rawTarSeconds(copyDir, join(root, 'tar1')), await rawTarSeconds(copyDir, join(root, 'tar2')))
      // A second bootstrap of the same tables: the leader's SHA-256s are cached by inode (src/backup).
      follower = await start(['follow', '--leader', leader.url, '--token', TOKEN, '--data', join(root, 'f1b'), '--port', '0', '--trees', 'bench', '--log-level', 'info'])
      const warmFollower = follower
      await until('the second bootstrap', () => /bootstrap complete/.test(warmFollower.stdout()))
      const warmOut = warmFollower.stdout()
      const warmSeconds = (logTime(warmOut, /bootstrap complete/)! - logTime(warmOut, /bootstrapping from/)!) / 1000
      await stop(follower)
      follower = undefined
      rmSync(join(root, 'f1b'), { recursive: true, force: true })
      rows.push({ what: 'bootstrap, cold (checkpoint -> follower ready)', value: `${bootstrapSeconds.toFixed(2)} s`, note: `${(copyBytes / MiB / bootstrapSeconds).toFixed(0)} MiB/s incl. SHA-256 on the leader (before the first byte) and the follower, fsync, open` })
      rows.push({ what: 'bootstrap, warm (leader hashes cached)', value: `${warmSeconds.toFixed(2)} s`, note: `${(copyBytes / MiB / warmSeconds).toFixed(0)} MiB/s: a second follower of the same tables` })
      rows.push({ what: 'tar -> loopback TCP -> tar -x && sync', value: `${tarSeconds.toFixed(2)} s`, note: 'best of 2, same files, no checks' })
      rows.push({ what: 'bootstrap / raw tar', value: `${(bootstrapSeconds / tarSeconds).toFixed(2)}x cold, ${(warmSeconds / tarSeconds).toFixed(2)}x warm`, note: 'goal: at most 1.3x' })
      rmSync(join(root, 'tar1'), { recursive: true, force: true })
      rmSync(join(root, 'tar2'), { recursive: true, force: true })
    }

    // 2. Steady-state lag at `rate` writes/s, without and with the WAL stream.
    for (const wal of [false, true]) {
      if (!parts.has(wal ? 'lag-wal' : 'lag-nowal')) continue
      log(`lag at ${rate} writes/s, ${wal ? 'with' : 'without'} --wal ...`)
      follower = await start(['follow', '--leader', leader.url, '--token', TOKEN, '--data', join(root, wal ? 'f3' : 'f2'), '--port', '0', '--trees', 'lag', '--log-level', 'warn', ...(wal ? ['--wal'] : [])])
      await until('ready', async () => (await call('GET', `${follower!.url}/readyz`)).status === 200)
      const { lags, fromAck, pollGaps } = await lagRun(leader.url, follower.url, 'lag', rate, lagSeconds, warmupSeconds, wal ? undefined : flushSeconds)
      rows.push({
        what: `lag at ${rate} writes/s, ${wal ? '--wal' : `no WAL, flush every ${flushSeconds} s`}`,
        value: `p50 ${percentile(lags, 50).toFixed(0)} ms, p99 ${percentile(lags, 99).toFixed(0)} ms`,
        note: `max ${Math.max(...lags).toFixed(0)} ms over ${lags.length} writes in ${lagSeconds} s after ${warmupSeconds} s warm-up; ` +
          `from the ack's receipt p50 ${percentile(fromAck, 50).toFixed(0)} / p99 ${percentile(fromAck, 99).toFixed(0)} ms; ` +
          `poll gap p99 ${percentile(pollGaps, 99).toFixed(1)} ms; goal ${wal ? 'p99 < 200 ms' : `<= ${flushSeconds * 1000 + 1000} ms`}`,
      })
      await stop(follower)
      follower = undefined
    }

    // 3. Leader GET p99 idle, then during a follower bootstrap at --bootstrap-mbps.
    if (parts.has('get')) {
      log('leader GET latency, idle then during a bootstrap ...')
      const idle = await getLatencies(leader.url, built.keys, 400, () => true, quick ? 5 : 15)
      rows.push({ what: 'leader GET p99, idle', value: `${percentile(idle, 99).toFixed(2)} ms`, note: `p50 ${percentile(idle, 50).toFixed(2)} ms, ${idle.length} GETs at 400/s` })
      // Twice: the first bootstrap of these tables makes the leader hash them (in its hash
      // worker, src/backup) unless the bootstrap part ran before; the second finds the hashes
      // cached by inode and only transfers.
      for (const [n, label] of [[4, parts.has('bootstrap') ? 'hashes cached' : 'leader hashes'], [5, 'hashes cached']] as const) {
        follower = await start(['follow', '--leader', leader.url, '--token', TOKEN, '--data', join(root, `f${n}`), '--port', '0', '--trees', 'bench', '--log-level', 'info', '--max-transfer-mbps', String(bootstrapMbps)])
        const f = follower
        await until('the bootstrap to start', () => /bootstrapping from/.test(f.stdout()))
        const during = await getLatencies(leader.url, built.keys, 400, () => /bootstrap complete/.test(f.stdout()), 0)
        rows.push({ what: `leader GET p99, during a bootstrap (${bootstrapMbps} Mbit/s, ${label})`, value: `${percentile(during, 99).toFixed(2)} ms`, note: `p50 ${percentile(during, 50).toFixed(2)} ms, ${during.length} GETs; ${(percentile(during, 99) / percentile(idle, 99)).toFixed(2)}x idle (goal < 2x)` })
        await stop(follower)
        follower = undefined
        rmSync(join(root, `f${n}`), { recursive: true, force: true })
      }
    }
  } finally {
    await stop(follower)
    await stop(leader)
    await agent.close()
    if (values.keep !== true) rmSync(root, { recursive: true, force: true })
  }
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM (${(freemem() / 1024 ** 3).toFixed(0)} free), load ${loadavg().map((x) => x.toFixed(1)).join(' ')}, node ${process.version}`
  if (values.markdown === true) {
    console.log('| measure | result | notes |\n|---|---|---|')
    for (const r of rows) console.log(`| ${r.what} | ${r.value} | ${r.note} |`)
    console.log(`\nMachine: ${machine}`)
  } else {
    for (const r of rows) console.log(`${r.what.padEnd(48)} ${r.value.padEnd(28)} ${r.note}`)
    console.log(`machine: ${machine}`)
  }
}

const run = isMainThread ? main : pollerThread
run().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})
