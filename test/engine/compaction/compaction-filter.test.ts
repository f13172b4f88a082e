// Compaction filters: the stream rules (top stripe only, remove = tombstone at the same seqno,
// rewrite keeps key and seqno), a tree on MemVfs with a filter object (inline jobs), a tree on
// disk with a filter module imported by a worker thread, a filter that throws (the tree turns
// read-only with the cause; a reopen recovers), and bad option shapes.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KeyKind } from '../../../src/engine/base/internal-key.js'
import { CompactionStream, type StreamEntry } from '../../../src/engine/compaction/compaction-stream.js'
import type { CompactionFilter } from '../../../src/engine/compaction/compaction-filter.js'
import { FragmentedTombstones } from '../../../src/engine/iterator/range-tombstones.js'
import { appendOperator } from '../../../src/engine/merge/builtins.js'
import { MemVfs, Tree, type TreeOptions } from '../../../src/engine/index.js'

const K = Buffer.from('k')
const e = (seqno: number, kind: KeyKind, value = ''): StreamEntry => ({ key: K, seqno, kind, value: Buffer.from(value) })
const show = (list: StreamEntry[]) => list.map((x) => `${x.seqno}:${x.kind}:${x.value.toString()}`)

/** Removes values starting with 'x', upper-cases values starting with 'u', records its calls. */
function recordingFilter(): CompactionFilter & { calls: string[] } {
  const calls: string[] = []
  return {
    name: 'test',
    calls,
    filter(key, value, ctx) {
      calls.push(`${key.toString()}@${ctx.seqno}:${value.toString()}`)
      if (value[0] === 0x78) return 'remove'
      if (value[0] === 0x75) return { value: Buffer.from(value.toString().toUpperCase()) }
      return 'keep'
    },
  }
}

function stream(snapshots: number[], bottommost: boolean, filter: CompactionFilter) {
  return new CompactionStream({
    snapshots,
    bottommost,
    mergeOperator: appendOperator,
    tombstones: FragmentedTombstones.from([]),
    filter: { filter, outputLevel: 3 },
  })
}

t.test('stream: remove becomes a tombstone at the same seqno, rewrite keeps the seqno', async (t) => {
  const f = recordingFilter()
  t.same(show(stream([], false, f).collapse(K, [e(9, KeyKind.Put, 'xgone'), e(5, KeyKind.Put, 'old')])), ['9:0:'])
  t.same(show(stream([], true, f).collapse(K, [e(9, KeyKind.Put, 'xgone'), e(5, KeyKind.Put, 'old')])), [], 'dropped at the bottom')
  t.same(show(stream([], false, f).collapse(K, [e(9, KeyKind.Put, 'up')])), ['9:1:UP'])
  t.same(show(stream([], false, f).collapse(K, [e(9, KeyKind.Put, 'plain')])), ['9:1:plain'])
  t.same(f.calls, ['k@9:xgone', 'k@9:xgone', 'k@9:up', 'k@9:plain'], 'only the newest version is offered')
})

t.test('stream: versions a snapshot can read are never offered to the filter', async (t) => {
  const f = recordingFilter()
  const out = stream([6], false, f).collapse(K, [e(9, KeyKind.Put, 'xnew'), e(5, KeyKind.Put, 'xpinned')])
  t.same(show(out), ['9:0:', '5:1:xpinned'], 'the snapshot still reads its version')
  t.same(f.calls, ['k@9:xnew'])
  const g = recordingFilter()
  t.same(show(stream([9], false, g).collapse(K, [e(9, KeyKind.Put, 'xnew')])), ['9:1:xnew'], 'an entry at the snapshot seqno is pinned')
  t.same(g.calls, [])
})

t.test('stream: folded merges are filtered, partial merges and tombstones are not', async (t) => {
  const f = recordingFilter()
  t.same(show(stream([], false, f).collapse(K, [e(5, KeyKind.Merge, 'c'), e(4, KeyKind.Put, 'u')])), ['5:1:UC'])
  t.same(show(stream([], false, f).collapse(K, [e(5, KeyKind.Merge, 'x'), e(4, KeyKind.Merge, 'y')])), ['5:2:yx'], 'partial merge untouched')
  t.same(show(stream([], false, f).collapse(K, [e(5, KeyKind.Delete)])), ['5:0:'])
  t.same(f.calls, ['k@5:uc'])
})

t.test('stream: an invalid decision is an error naming the filter', async (t) => {
  const bad: CompactionFilter = { name: 'broken', filter: () => 'drop' as never }
  t.throws(() => stream([], false, bad).collapse(K, [e(1, KeyKind.Put, 'a')]), { code: 'INVALID_ARGUMENT', message: /broken/ })
})

const small: TreeOptions = {
  memtableBytes: 4096,
  blockBytes: 256,
  tableBytes: 4096,
  compaction: { strategy: 'leveled', l0CompactionTrigger: 2, l0SlowdownTrigger: 8, l0StopTrigger: 12, levelBaseBytes: 8192 },
}
const key = (i: number) => `key${String(i).padStart(5, '0')}`

t.test('tree with a filter object: removed keys do not resurface, snapshots keep their view', async (t) => {
  const vfs = new MemVfs()
  const filter = recordingFilter()
  const tree = await Tree.open('/f', { vfs, ...small, compactionFilter: filter })
  for (let i = 0; i < 200; i++) await tree.put(key(i), `old-${i}`)
  await tree.flush()
  await tree.compact()
  const snap = tree.snapshot()
  for (let i = 0; i < 200; i++) await tree.put(key(i), i % 2 === 0 ? `x-${i}` : `u-${i}`)
  await tree.compact()
  t.ok(filter.calls.length > 0, 'the filter ran')
  for (let i = 0; i < 200; i += 17) {
    t.equal(tree.get(key(i), { seqno: snap.seqno })?.toString(), `old-${i}`, 'the snapshot reads the old value')
  }
  snap.release()
  await tree.compact()
  for (let i = 0; i < 200; i++) {
    const v = tree.get(key(i))?.toString()
    if (i % 2 === 0) t.equal(v, undefined, `${key(i)} removed, its old value does not resurface`)
    else t.equal(v, `U-${i}`, `${key(i)} rewritten`)
  }
  t.equal([...tree.iterator()].length, 100)
  await tree.close()
  const again = await Tree.open('/f', { vfs, ...small })
  t.equal(again.get(key(1))?.toString(), 'U-1', 'rewritten values are durable')
  t.equal(again.get(key(2)), undefined)
  await again.close()
})

t.test('a filter that throws degrades the tree; data stays; reopen without it recovers', async (t) => {
  const vfs = new MemVfs()
  const boom: CompactionFilter = {
    name: 'boom',
    filter: () => {
      throw new Error('filter exploded')
    },
  }
  const tree = await Tree.open('/b', { vfs, ...small, compactionFilter: boom })
  for (let i = 0; i < 100; i++) await tree.put(key(i), `v${i}`)
  await t.rejects(tree.compact())
  t.ok(tree.stats().backgroundError, 'the cause is in stats')
  await t.rejects(tree.put('a', 'b'), { code: 'READ_ONLY' })
  t.equal(tree.get(key(7))?.toString(), 'v7', 'reads still work')
  await tree.close().catch(() => undefined)
  const again = await Tree.open('/b', { vfs, ...small })
  for (let i = 0; i < 100; i++) t.equal(again.get(key(i))?.toString(), `v${i}`)
  await again.compact()
  await again.close()
})

t.test('a filter module runs in a worker thread', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-filter-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const modulePath = join(dir, 'ttl-filter.mjs')
  // Values are "<expiry>:<payload>"; the factory takes the clock as an option so the test is exact.
  writeFileSync(
    modulePath,
    `import { isMainThread } from 'node:worker_threads'
     export function ttl(options) {
       return { name: 'ttl', filter(key, value) {
         if (isMainThread) throw new Error('the filter module ran on the main thread')
         const expiry = Number(value.toString().split(':')[0])
         return expiry < options.now ? 'remove' : 'keep'
       } }
     }\n`,
  )
  const options: TreeOptions = { ...small, backgroundThreads: 1, compactionFilter: { module: modulePath, exportName: 'ttl', options: { now: 1000 } } }
  const tree = await Tree.open(join(dir, 'tree'), options)
  for (let i = 0; i < 300; i++) await tree.put(key(i), `${i % 3 === 0 ? 500 : 2000}:payload-${i}`)
  await tree.compact()
  t.notOk(tree.stats().backgroundError, 'no background error (the filter refuses the main thread)')
  for (let i = 0; i < 300; i++) {
    const v = tree.get(key(i))?.toString()
    t.equal(v, i % 3 === 0 ? undefined : `2000:payload-${i}`, key(i))
  }
  await tree.close()
})

t.test('bad filter options are refused at open', async (t) => {
  const vfs = new MemVfs()
  await t.rejects(Tree.open('/x', { vfs, compactionFilter: { name: 'n' } as never }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(Tree.open('/x', { vfs, compactionFilter: { module: '/nonexistent/filter.mjs' } }), { code: 'INVALID_ARGUMENT', message: /cannot import/ })
  await t.rejects(
    Tree.open('/x', { vfs, compactionFilter: { module: '/nonexistent.mjs', options: { f: () => 1 } } }),
    { code: 'INVALID_ARGUMENT', message: /structured-clonable/ },
  )
})
