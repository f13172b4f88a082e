// Random point reads against a tree loaded from disk (docs/benchmarks.md, "Read path and memory
// work"). After `npm run build`:
//   node bench/profile-get.mjs [--num 300000] [--gets 1000000] [--profile] [--dist ./dist] [--dir D]
//   node bench/profile-get.mjs --fill [--num 1000000]     # memory of a fill instead (see below)
// Loads --num keys (16-byte decimal, random order, batches of 1,000, 100-byte values), closes and
// reopens (reads start from the tables, cold cache), then times --gets sync gets of random
// existing keys. --profile adds a V8 CPU profile of the timed loop only and prints the top
// self-time functions. --dist picks another build (A/B comparisons of two checkouts).
// --fill: db_bench fillrandom instead (--num puts of random keys, one await at a time, fresh
// 100-byte values), printing puts/s, peak RSS (main thread and workers) and the main thread's
// peak heapUsed and arrayBuffers (sampled every 50 ms and every 4,096 puts).
import { rmSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'

const { values: flags } = parseArgs({ options: {
  num: { type: 'string', default: '300000' }, gets: { type: 'string', default: '1000000' },
  profile: { type: 'boolean', default: false }, dist: { type: 'string', default: new URL('../dist', import.meta.url).pathname },
  dir: { type: 'string', default: '/tmp/strata-profile-get' },
  fill: { type: 'boolean', default: false },
} })
const { Tree } = await import(pathToFileURL(resolve(flags.dist, 'engine/index.js')).href)
const N = Number(flags.num), GETS = Number(flags.gets), dir = flags.dir
let seed = 301
const random = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed }
const key = (i) => Buffer.from(String(i).padStart(16, '0'))

rmSync(dir, { recursive: true, force: true })
let tree = await Tree.open(dir, { sync: 'none' })
if (flags.fill) {
  const pool = Buffer.alloc(1 << 20).map(() => random() & 0xff)
  let heapPeak = 0
  let arrayBuffersPeak = 0
  const sample = () => {
    const m = process.memoryUsage()
    heapPeak = Math.max(heapPeak, m.heapUsed)
    arrayBuffersPeak = Math.max(arrayBuffersPeak, m.arrayBuffers)
  }
  const timer = setInterval(sample, 50) // puts may never yield to timers: sample inline too
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    const at = random() % (pool.length - 100)
    await tree.put(key(random() % N), Buffer.from(pool.subarray(at, at + 100)))
    if ((i & 4095) === 0) sample()
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  clearInterval(timer)
  const mib = (bytes) => Math.round(bytes / 2 ** 20)
  console.log(JSON.stringify({ puts: N, putsPerSec: Math.round(N / seconds), maxRssMiB: mib(process.resourceUsage().maxRSS * 1024),
    mainHeapUsedPeakMiB: mib(heapPeak), mainArrayBuffersPeakMiB: mib(arrayBuffersPeak) }))
  await tree.close()
  rmSync(dir, { recursive: true, force: true })
  process.exit(0)
}
const order = Array.from({ length: N }, (_, i) => i)
for (let i = N - 1; i > 0; i--) { const j = random() % (i + 1); [order[i], order[j]] = [order[j], order[i]] }
const pool = Buffer.alloc(1 << 20).map(() => random() & 0xff)
for (let i = 0; i < N; i += 1000) {
  const batch = tree.batch()
  for (let j = i; j < Math.min(N, i + 1000); j++) batch.put(key(order[j]), pool.subarray(j % 4000, (j % 4000) + 100))
  await batch.write()
}
await tree.close()
tree = await Tree.open(dir, { sync: 'none' })
await new Promise((r) => setTimeout(r, 2000)) // let an opening compaction start and settle
console.log('tables per level', JSON.stringify(tree.stats().levels.map((l) => l.tables)))

let session
if (flags.profile) {
  const { Session } = await import('node:inspector/promises')
  session = new Session(); session.connect(); await session.post('Profiler.enable'); await session.post('Profiler.start')
}
let found = 0
const t0 = process.hrtime.bigint()
for (let i = 0; i < GETS; i++) if (tree.get(key(random() % N)) !== undefined) found++
const seconds = Number(process.hrtime.bigint() - t0) / 1e9
const profile = session ? (await session.post('Profiler.stop')).profile : undefined
const cache = tree.stats().cache
console.log(JSON.stringify({ gets: GETS, getsPerSec: Math.round(GETS / seconds), found, cacheHits: cache.hits, cacheMisses: cache.misses,
  maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }))
if (found !== GETS) throw new Error(`${GETS - found} loaded keys were not found`)
if (profile) {
  const self = new Map(); const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  profile.samples.forEach((id, i) => {
    const f = byId.get(id).callFrame
    const name = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${(100 * us / total).toFixed(1).padStart(5)}%  ${name}`)
}
await tree.close()
rmSync(dir, { recursive: true, force: true })
