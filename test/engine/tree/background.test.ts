// Background work: compaction runs by itself and keeps data exact; writes back off so memory
// stays bounded; a worker crash or an injected I/O error in a compaction degrades the tree to
// read-only with the cause visible, loses nothing acknowledged, and a reopen recovers.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FaultVfs, MemVfs, Tree, type TreeOptions } from '../../../src/engine/index.js'

const small: TreeOptions = {
  memtableBytes: 4096,
  blockBytes: 256,
  tableBytes: 4096,
  compaction: { strategy: 'leveled', l0CompactionTrigger: 2, l0SlowdownTrigger: 4, l0StopTrigger: 6, levelBaseBytes: 8192 },
}
const key = (i: number) => `key${String(i).padStart(5, '0')}`

async function fill(tree: Tree, n: number, tag: string): Promise<Map<string, string>> {
  const expected = new Map<string, string>()
  for (let i = 0; i < n; i++) {
    const k = key((i * 37) % 1000)
    await tree.put(k, `${tag}-${i}`)
    expected.set(k, `${tag}-${i}`)
  }
  return expected
}

function contents(tree: Tree): Map<string, string> {
  return new Map([...tree.iterator()].map(([k, v]) => [k.toString(), v.toString()]))
}

t.test('background compaction runs on its own and keeps every value', async (t) => {
  const vfs = new MemVfs()
  const tree = await Tree.open('/bg', { vfs, ...small })
  const expected = await fill(tree, 3000, 'a')
  await tree.flush()
  const stats = tree.stats()
  t.ok(stats.compactions > 0, `compactions ran (${stats.compactions})`)
  t.ok(stats.levels.slice(1).some((l) => l.tables > 0), 'data moved below level 0')
  t.ok(stats.writeAmplification >= 1, `write amplification ${stats.writeAmplification.toFixed(2)}`)
  t.same(contents(tree), expected)
  await tree.close()
  const again = await Tree.open('/bg', { vfs, ...small })
  t.same(contents(again), expected, 'after reopen')
  await again.close()
})

t.test('a writer faster than compaction keeps memory bounded', async (t) => {
  const vfs = new MemVfs()
  const options = { vfs, ...small, immutableMemtablesMax: 2 }
  const tree = await Tree.open('/bp', options)
  let maxImmutables = 0
  let maxL0 = 0
  const writers = Array.from({ length: 4 }, async (_, w) => {
    for (let i = 0; i < 600; i++) {
      await tree.put(key(w * 10_000 + i), 'x'.repeat(64))
      const s = tree.stats()
      maxImmutables = Math.max(maxImmutables, s.immutableMemtables)
      maxL0 = Math.max(maxL0, s.levels[0]!.tables)
    }
  })
  await Promise.all(writers)
  t.ok(maxImmutables <= 2, `immutable memtables stayed <= 2 (max ${maxImmutables})`)
  t.ok(maxL0 <= 6 + 1, `level 0 stayed near the stop trigger (max ${maxL0})`)
  t.equal([...tree.iterator()].length, 2400)
  await tree.close()
})

t.test('an injected I/O error in a background compaction degrades the tree; reopen recovers', async (t) => {
  const mem = new MemVfs()
  const vfs = new FaultVfs(mem)
  const tree = await Tree.open('/io', { vfs, ...small })
  const expected = await fill(tree, 300, 'a')
  await tree.flush()
  vfs.injectAlways({ op: 'create', errno: 'ENOSPC', path: /\.sst$/ })
  // Writes go on until a flush or compaction needs a new table; then the tree degrades.
  let failure: unknown
  for (let i = 0; i < 2000 && failure === undefined; i++) {
    try {
      const k = key(i % 1000)
      await tree.put(k, `b-${i}`)
      expected.set(k, `b-${i}`)
    } catch (error) {
      failure = error
    }
  }
  t.match(failure, { code: 'READ_ONLY' }, 'later writes are rejected with READ_ONLY')
  const stats = tree.stats()
  t.match(stats.backgroundError, { code: 'IO' }, 'the cause is visible in stats')
  t.match(String(stats.backgroundError?.message), /ENOSPC/)
  t.same(contents(tree), expected, 'reads keep working and see every acknowledged write')
  await t.rejects(tree.put('x', 'y'), { code: 'READ_ONLY' })
  await tree.close()
  vfs.clear()
  const again = await Tree.open('/io', { vfs, ...small })
  t.same(contents(again), expected, 'nothing acknowledged was lost')
  await again.put('after', 'ok')
  await again.flush()
  await again.close()
})

t.test('a worker dying during a compaction: error visible, data intact, reopen recovers', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-worker-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const options: TreeOptions = { ...small, compaction: { strategy: 'leveled', l0CompactionTrigger: 1000, l0SlowdownTrigger: 2000, l0StopTrigger: 3000 } }
  const tree = await Tree.open(dir, options)
  const expected = await fill(tree, 1500, 'a')
  await tree.flush()
  const runner = (tree as unknown as { runner: { kind: string; killWorkersForTest(): Promise<void> } }).runner
  t.equal(runner.kind, 'worker', 'the node Vfs runs jobs in workers')
  const compaction = tree.compact()
  await new Promise((r) => setTimeout(r, 5))
  await runner.killWorkersForTest()
  await t.rejects(compaction, { code: 'READ_ONLY' })
  t.match(tree.stats().backgroundError, { code: 'IO' })
  t.same(contents(tree), expected, 'reads still see everything')
  await tree.close()
  const again = await Tree.open(dir, options)
  t.same(contents(again), expected)
  await again.compact()
  t.same(contents(again), expected, 'compaction works again after the reopen')
  await again.close()
})
