// CPU profile of random point reads (docs/benchmarks.md): `npm run build && node bench/profile-get.mjs`
import { Tree } from '../dist/engine/index.js'
import { rmSync } from 'node:fs'
const dir = '/tmp/prof-tree'; rmSync(dir, { recursive: true, force: true })
const t = await Tree.open(dir, { sync: 'none' })
const key = (i) => String(i).padStart(16, '0')
const v = Buffer.alloc(100, 7)
const N = 300000
for (let i = 0; i < N; i++) { const k = (i * 7919) % N; await t.put(key(k), v) }
await t.flush(); await new Promise(r => setTimeout(r, 2000))
console.log(JSON.stringify(t.stats().levels.map(l => l.tables)))
const { Session } = await import('node:inspector/promises')
const s = new Session(); s.connect(); await s.post('Profiler.enable'); await s.post('Profiler.start')
const t0 = performance.now(); let found = 0
for (let i = 0; i < 200000; i++) if (t.get(key((i * 104729) % N))) found++
const ms = performance.now() - t0
const { profile } = await s.post('Profiler.stop')
console.log('gets/s', Math.round(200000 / ms * 1000), 'found', found)
const self = new Map(); const byId = new Map(profile.nodes.map(n => [n.id, n]))
const dt = profile.timeDeltas; const samples = profile.samples
for (let i = 0; i < samples.length; i++) { const n = byId.get(samples[i]); const name = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`; self.set(name, (self.get(name) || 0) + dt[i]) }
const total = [...self.values()].reduce((a, b) => a + b, 0)
for (const [n, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log((us / total * 100).toFixed(1) + '%', n)
await t.close()
