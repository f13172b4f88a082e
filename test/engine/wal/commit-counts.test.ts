// tree.stats().commits counts what group commit did: each group is one WAL append, and under
// sync 'always' one fsync; concurrent writers share groups, so batches exceed walSyncs.
import t from 'tap'
import { MemVfs, Tree } from '../../../src/engine/index.js'

t.test('sequential writes under sync always: one group and one fsync each', async (t) => {
  const tree = await Tree.open('/counts', { vfs: new MemVfs(), sync: 'always' })
  t.same(tree.stats().commits, { groups: 0, batches: 0, walSyncs: 0 })
  for (let i = 0; i < 5; i++) await tree.put(`k${i}`, 'v')
  t.same(tree.stats().commits, { groups: 5, batches: 5, walSyncs: 5 })
  await tree.close()
})

t.test('concurrent writes share groups and fsyncs', async (t) => {
  const tree = await Tree.open('/shared', { vfs: new MemVfs(), sync: 'always' })
  await Promise.all(Array.from({ length: 50 }, (_, i) => tree.put(`k${i}`, 'v')))
  const c = tree.stats().commits
  t.equal(c.batches, 50)
  t.equal(c.walSyncs, c.groups)
  t.ok(c.groups < 50, `50 concurrent puts took ${c.groups} groups`)
  await tree.close()
})

t.test('sync none counts groups but no fsyncs', async (t) => {
  const tree = await Tree.open('/nosync', { vfs: new MemVfs(), sync: 'none' })
  await tree.put('a', 'v')
  await tree.batch().put('b', 'v').delete('a').write()
  t.same(tree.stats().commits, { groups: 2, batches: 2, walSyncs: 0 })
  await tree.close()
})
