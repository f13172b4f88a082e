// resetTreeId: a closed tree gets a new treeId with the same data, seqno and files; refused while
// the tree is open; crash-safe (a crash at every step leaves the old id or the new one, never an
// unopenable tree).
import t from 'tap'
import { FaultVfs, MemVfs, Tree, resetTreeId } from '../../../src/engine/index.js'

const small = { memtableBytes: 4096, blockBytes: 512, tableBytes: 8192, backgroundThreads: 0 }

async function makeTree(vfs: MemVfs | FaultVfs, dir: string): Promise<{ treeId: string; seqno: number; entries: [string, string][] }> {
  const tree = await Tree.open(dir, { ...small, vfs })
  for (let i = 0; i < 500; i++) await tree.put(`k${String(i).padStart(4, '0')}`, `v${i}`)
  await tree.flush()
  await tree.put('tail', 'in the wal only')
  const result = { treeId: tree.treeId, seqno: tree.seqno, entries: [...tree.iterator()].map(([k, v]) => [k.toString(), v.toString()] as [string, string]) }
  await tree.close()
  return result
}

async function contents(vfs: MemVfs | FaultVfs, dir: string): Promise<{ treeId: string; seqno: number; entries: [string, string][] }> {
  const tree = await Tree.open(dir, { ...small, vfs, createIfMissing: false })
  const result = { treeId: tree.treeId, seqno: tree.seqno, entries: [...tree.iterator()].map(([k, v]) => [k.toString(), v.toString()] as [string, string]) }
  await tree.close()
  return result
}

t.test('a new treeId, the same data and seqno', async (t) => {
  const vfs = new MemVfs()
  const before = await makeTree(vfs, '/t')
  const manifestsBefore = (await vfs.list('/t')).filter((n) => n.startsWith('MANIFEST-'))
  const result = await resetTreeId('/t', vfs)
  t.equal(result.previousTreeId, before.treeId)
  t.not(result.treeId, before.treeId, 'a different id')
  t.match(result.treeId, /^[0-9a-f-]{36}$/, 'a UUID')
  const manifestsAfter = (await vfs.list('/t')).filter((n) => n.startsWith('MANIFEST-'))
  t.equal(manifestsAfter.length, 1, 'one manifest left')
  t.notSame(manifestsAfter, manifestsBefore, 'a new manifest file')
  const after = await contents(vfs, '/t')
  t.equal(after.treeId, result.treeId, 'the tree opens with the new id')
  t.equal(after.seqno, before.seqno, 'same seqno')
  t.same(after.entries, before.entries, 'same data (tables and WAL)')
  const given = await resetTreeId('/t', vfs, 'chosen-id')
  t.equal(given.treeId, 'chosen-id')
  t.equal((await contents(vfs, '/t')).treeId, 'chosen-id')
})

t.test('refused while the tree is open; NOT_FOUND without a tree', async (t) => {
  const vfs = new MemVfs()
  const tree = await Tree.open('/t', { ...small, vfs })
  await t.rejects(resetTreeId('/t', vfs), { code: 'LOCKED' })
  await tree.close()
  await vfs.mkdirp('/empty')
  await t.rejects(resetTreeId('/empty', vfs), { code: 'NOT_FOUND' })
})

t.test('a crash at any step leaves the old id or the new one, and the same data', async (t) => {
  const base = new MemVfs()
  const before = await makeTree(base, '/t')
  // Count the ops of one successful reset, then crash after each prefix of them.
  const probe = new FaultVfs(base.crashClone())
  let total = 0
  probe.onOp = () => { total++ }
  await resetTreeId('/t', probe)
  t.ok(total > 5, `${total} file-system ops`)
  const seen = new Set<string>()
  for (let stopAt = 0; stopAt <= total; stopAt++) {
    const mem = base.crashClone()
    const fault = new FaultVfs(mem)
    let ops = 0
    let crashed: MemVfs | undefined
    fault.onOp = () => {
      if (ops++ === stopAt && crashed === undefined) crashed = mem.crashClone()
    }
    // Power loss just before op `stopAt`: the disk is what was durable then.
    await resetTreeId('/t', fault).catch(() => undefined)
    const disk = crashed ?? mem.crashClone()
    const after = await contents(disk, '/t')
    t.same(after.entries, before.entries, `crash at op ${stopAt}: same data`)
    t.equal(after.seqno, before.seqno, `crash at op ${stopAt}: same seqno`)
    seen.add(after.treeId === before.treeId ? 'old' : 'new')
  }
  t.same([...seen].sort(), ['new', 'old'], 'crashes early keep the old id, late ones have the new')
})
