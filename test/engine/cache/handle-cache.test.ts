// The table handle cache bounds open descriptors: a tree of many tables read through a cache of
// two handles returns every value, holds at most two table descriptors (counted in /proc on
// disk), reopens evicted ones, and refuses a table whose size changed under it.
import t from 'tap'
import { mkdtempSync, readdirSync, readlinkSync, rmSync, truncateSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HandleCache } from '../../../src/engine/cache/handle-cache.js'
import { MemVfs, NodeVfs, Tree, type TreeOptions } from '../../../src/engine/index.js'
import { writeFile } from '../../helpers/vfs-contract.js'

const key = (i: number) => `key${String(i).padStart(5, '0')}`
const small: TreeOptions = { memtableBytes: 4096, blockBytes: 256, tableBytes: 4096, blockCacheBytes: 0, compaction: 'fifo' }

/** Descriptors of this process open on .sst files under `dir`. */
function openTableFds(dir: string): number {
  let n = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`)
      if (target.startsWith(dir) && target.endsWith('.sst')) n++
    } catch {
      // the fd closed between the listing and the readlink
    }
  }
  return n
}

t.test('a tree with more tables than handles reads every value through two descriptors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-handles-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const tree = await Tree.open(dir, { ...small, maxOpenTables: 2, backgroundThreads: 0 })
  for (let i = 0; i < 1500; i++) await tree.put(key(i), `value-${i}`)
  await tree.flush()
  const stats = tree.stats()
  t.ok(stats.tables > 10, `many tables (${stats.tables})`)
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 1500; i += 7) t.equal(tree.get(key(i))?.toString(), `value-${i}`)
  }
  t.equal([...tree.iterator()].length, 1500, 'a full scan over every table')
  const handles = tree.stats().tableHandles
  t.ok(handles.open <= 2, `at most two descriptors open (${handles.open})`)
  t.ok(handles.reopens > 0 && handles.evictions > 0, `evicted handles were reopened (${handles.reopens} reopens)`)
  t.ok(openTableFds(dir) <= 2, `the process holds at most two .sst descriptors (${openTableFds(dir)})`)
  await tree.close()
  t.equal(openTableFds(dir), 0, 'close releases every descriptor')
})

t.test('a reopened table whose size changed is CORRUPTION, not wrong data', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-handles-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const vfs = new NodeVfs()
  await writeFile(vfs, `${dir}/000001.sst`, 'abcdefgh')
  await writeFile(vfs, `${dir}/000002.sst`, 'ijklmnop')
  const cache = new HandleCache(vfs, 1)
  const a = cache.adopt(`${dir}/000001.sst`, await vfs.openReadable(`${dir}/000001.sst`))
  const b = cache.adopt(`${dir}/000002.sst`, await vfs.openReadable(`${dir}/000002.sst`))
  t.equal(cache.stats().open, 1, 'adopting the second evicted the first')
  t.equal(b.readAt(0, 4).toString(), 'ijkl')
  t.equal(a.readAt(4, 4).toString(), 'efgh', 'the first reopens')
  truncateSync(`${dir}/000002.sst`, 3)
  t.throws(() => b.readAt(0, 1), { code: 'CORRUPTION', message: /000002\.sst changed size/ })
  await a.close()
  await b.close()
  t.equal(cache.stats().open, 0)
})

t.test('MemVfs trees honour the bound too', async (t) => {
  const vfs = new MemVfs()
  const tree = await Tree.open('/h', { vfs, ...small, maxOpenTables: 3 })
  for (let i = 0; i < 800; i++) await tree.put(key(i), `v${i}`)
  await tree.compact()
  for (let i = 0; i < 800; i += 3) t.equal(tree.get(key(i))?.toString(), `v${i}`)
  t.ok(tree.stats().tableHandles.open <= 3)
  await tree.close()
  await t.rejects(Tree.open('/h', { vfs, maxOpenTables: 0 }), { code: 'INVALID_ARGUMENT' })
})

t.test('a descriptor read since the last sweep gets a second chance (CLOCK)', async (t) => {
  const vfs = new MemVfs()
  await vfs.mkdirp('/c')
  for (const name of ['a', 'b', 'c']) await writeFile(vfs, `/c/${name}.sst`, `bytes-of-${name}`)
  const cache = new HandleCache(vfs, 2)
  const a = cache.adopt('/c/a.sst', await vfs.openReadable('/c/a.sst'))
  const b = cache.adopt('/c/b.sst', await vfs.openReadable('/c/b.sst'))
  t.equal(a.readAt(0, 5).toString(), 'bytes', 'a is hot')
  const c = cache.adopt('/c/c.sst', await vfs.openReadable('/c/c.sst'))
  t.match(cache.stats(), { open: 2, evictions: 1, reopens: 0 })
  t.equal(a.readAt(9, 1).toString(), 'a', 'a kept its descriptor')
  t.equal(cache.stats().reopens, 0)
  t.equal(b.readAt(9, 1).toString(), 'b', 'b was the victim and reopens')
  t.equal(cache.stats().reopens, 1)
  t.equal(c.readAt(9, 1).toString(), 'c')
  for (const f of [a, b, c]) await f.close()
  t.equal(cache.stats().open, 0)
})
