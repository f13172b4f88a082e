// With sync 'none' a commit waits on no I/O, so `for (...) await tree.put()` would run in
// microtasks only and starve timers and sockets for the whole loop. The pipeline yields to the
// event loop once a millisecond passes without a turn: a timer set before such a loop fires
// while it runs.
import t from 'tap'
import { MemVfs, Tree } from '../../../src/engine/index.js'

t.test('a tight write loop under sync none lets timers run', async (t) => {
  const tree = await Tree.open('/fair', { vfs: new MemVfs(), sync: 'none' })
  for (let i = 0; i < 200; i++) await tree.put(`warm${i}`, 'v')
  let fired = false
  setTimeout(() => {
    fired = true
  }, 0)
  const start = performance.now()
  let n = 0
  while (!fired && performance.now() - start < 3000) await tree.put(`k${n++}`, 'v')
  t.ok(fired, `the timer fired during the loop (after ${n} puts, ${(performance.now() - start).toFixed(1)} ms)`)
  t.ok(n > 1, 'the loop ran a while before yielding')
  for (let i = 0; i < n; i += Math.max(1, Math.floor(n / 20))) t.equal(tree.get(`k${i}`)?.toString(), 'v')
  await tree.close()
})
