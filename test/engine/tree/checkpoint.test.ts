// Checkpoints taken while writers and compaction run open as independent trees holding exactly
// the data at the returned seqno; the live tree keeps working; files pinned by a checkpoint
// survive compaction; a failed checkpoint leaves no directory.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FaultVfs, MemVfs, Tree } from '../../../src/engine/index.js'

const small = { memtableBytes: 8192, blockBytes: 512, tableBytes: 16384 }

for (const kind of ['mem', 'node'] as const) {
  t.test(`checkpoint under concurrent writes (${kind})`, async (t) => {
    const vfs = kind === 'mem' ? new MemVfs() : undefined
    const root = kind === 'mem' ? '/root' : mkdtempSync(join(tmpdir(), 'strata-ckpt-'))
    t.teardown(() => {
      if (kind === 'node') rmSync(root, { recursive: true, force: true })
    })
    const options = { ...small, ...(vfs ? { vfs } : {}) }
    const tree = await Tree.open(`${root}/live`, options)
    const written = new Map<number, [string, string]>() // seqno -> [key, value]
    let stop = false
    const writer = async (id: number) => {
      for (let i = 0; !stop; i++) {
        const key = `k${(i * 7 + id) % 300}`
        const value = `w${id}-${i}`
        written.set(await tree.put(key, value), [key, value])
      }
    }
    const writers = [writer(1), writer(2), writer(3)]
    await new Promise((r) => setTimeout(r, 50))
    const compaction = tree.compact()
    const ckpt = await tree.checkpoint(`${root}/ckpt`)
    await compaction
    await new Promise((r) => setTimeout(r, 30))
    stop = true
    await Promise.all(writers)
    t.ok(ckpt.seqno > 0 && ckpt.files >= 2 && ckpt.bytes > 0, 'checkpoint result')
    // Expected state at the checkpoint's seqno: replay the writes in seqno order.
    const expected = new Map<string, string>()
    for (const s of [...written.keys()].sort((a, b) => a - b)) {
      if (s > ckpt.seqno) break
      const [k, v] = written.get(s)!
      expected.set(k, v)
    }
    await tree.compact()
    const copy = await Tree.open(`${root}/ckpt`, options)
    t.equal(copy.seqno, ckpt.seqno, 'the copy opens at the checkpoint seqno')
    t.equal(copy.treeId, tree.treeId, 'same history, same treeId')
    const got = new Map([...copy.iterator()].map(([k, v]) => [k.toString(), v.toString()]))
    t.same(got, expected, 'exactly the data at its seqno')
    await copy.put('only-in-copy', 'x')
    t.equal(tree.get('only-in-copy'), undefined, 'independent of the live tree')
    await tree.put('after', 'y')
    t.equal(tree.get('after')?.toString(), 'y', 'the live tree keeps working')
    await copy.close()
    await tree.close()
  })
}

t.test('a checkpoint directory that exists is refused; a failure leaves nothing', async (t) => {
  const mem = new MemVfs()
  const vfs = new FaultVfs(mem)
  const tree = await Tree.open('/live', { vfs, ...small })
  for (let i = 0; i < 200; i++) await tree.put(`k${i}`, `v${i}`)
  await mem.mkdirp('/exists')
  await t.rejects(tree.checkpoint('/exists'), { code: 'EXISTS' })
  vfs.injectNth({ op: 'link', nth: 1, errno: 'EIO' })
  await t.rejects(tree.checkpoint('/failed'), { code: 'IO' })
  t.equal(await mem.exists('/failed'), false, 'partial checkpoint removed')
  const ok = await tree.checkpoint('/ok')
  t.ok(ok.seqno >= 200)
  await tree.close()
})
