// Tree basics on MemVfs and NodeVfs: writes, reads, scans, snapshots, flush, compact, reopen.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemVfs, Tree, type TreeOptions } from '../../../src/engine/index.js'

const keys = (tree: Tree, options = {}) => [...tree.iterator(options)].map(([k, v]) => `${k}=${v}`)

for (const kind of ['mem', 'node'] as const) {
  t.test(`basics on ${kind}`, async (t) => {
    const vfs = kind === 'mem' ? new MemVfs() : undefined
    const dir = kind === 'mem' ? '/tree' : mkdtempSync(join(tmpdir(), 'strata-basics-'))
    t.teardown(() => {
      if (kind === 'node') rmSync(dir, { recursive: true, force: true })
    })
    const options: TreeOptions = { mergeOperator: 'append', memtableBytes: 4096, blockBytes: 256, ...(vfs ? { vfs } : {}) }
    let tree = await Tree.open(dir, options)
    const s1 = await tree.put('a', '1')
    const s2 = await tree.put('b', '2')
    t.ok(s2 > s1, 'seqnos increase')
    await tree.merge('m', 'x')
    await tree.merge('m', 'y')
    const snap = tree.snapshot()
    await tree.delete('a')
    await tree.batch().put('c', '3').put('d', '4').deleteRange('c', 'd').write()
    t.equal(tree.get('a'), undefined)
    t.equal(tree.get('a', { seqno: snap.seqno })?.toString(), '1')
    t.same(keys(tree), ['b=2', 'd=4', 'm=xy'])
    t.same(keys(tree, { reverse: true }), ['m=xy', 'd=4', 'b=2'])
    t.same(keys(tree, { seqno: snap.seqno }), ['a=1', 'b=2', 'm=xy'])
    for (let i = 0; i < 500; i++) await tree.put(`k${String(i).padStart(4, '0')}`, `v${i}`)
    await tree.flush()
    t.ok(tree.stats().tables > 0, 'flushed to tables')
    t.equal(tree.get('k0042')?.toString(), 'v42')
    t.same(keys(tree, { gte: 'k0100', lt: 'k0103' }), ['k0100=v100', 'k0101=v101', 'k0102=v102'])
    t.same(keys(tree, { prefix: 'k049', reverse: true, limit: 2 }), ['k0499=v499', 'k0498=v498'])
    await tree.compact()
    t.equal(tree.stats().levels[6]!.tables > 0, true, 'compacted to the last level')
    t.equal(tree.get('a', { seqno: snap.seqno })?.toString(), '1', 'snapshot survives compaction')
    snap.release()
    t.equal(tree.get('m')?.toString(), 'xy')
    await tree.close()
    tree = await Tree.open(dir, options)
    t.equal(tree.get('k0499')?.toString(), 'v499')
    t.equal(tree.get('b')?.toString(), '2')
    t.equal(tree.get('a'), undefined)
    t.same(keys(tree, { lt: 'c' }), ['b=2'])
    await tree.put('z', 'last')
    await tree.close()
    tree = await Tree.open(dir, options)
    t.equal(tree.get('z')?.toString(), 'last', 'WAL replay')
    await tree.close()
  })
}
