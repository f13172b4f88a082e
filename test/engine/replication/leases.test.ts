// Leases: the files a delta adds stay on the leader after compaction obsoletes them, until the
// lease is released or expires; the lease table is bounded; files are served only while live.
import t from 'tap'
import { MemVfs, Tree } from '../../../src/engine/index.js'
import { tableName } from './support.js'

const small = { memtableBytes: 8192, blockBytes: 512, tableBytes: 8192, backgroundThreads: 0 }

async function fill(tree: Tree, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) await tree.put(`k${String(i).padStart(5, '0')}`, 'v'.repeat(40))
  await tree.flush()
}

t.test('leased files survive compaction until released', async (t) => {
  const vfs = new MemVfs()
  const leader = await Tree.open('/l', { vfs, ...small })
  const since = leader.replication.state().versionId
  await fill(leader, 0, 300)
  const delta = leader.replication.delta(since, true)
  t.ok(delta.leaseId !== null && delta.addTables.length > 0, 'a leased delta')
  t.ok(delta.leaseExpiresAtMs! > Date.now(), 'expires in the future')
  const ids = delta.addTables.map((d) => d.id)
  await leader.compact()
  await fill(leader, 300, 50) // one more install runs the deferred deletions
  const live = new Set((await vfs.list('/l')).filter((n) => n.endsWith('.sst')))
  for (const id of ids) t.ok(live.has(tableName(id)), `table ${id} kept by the lease`)
  const file = await leader.replication.openFile('table', ids[0]!)
  t.equal(file.sizeBytes, delta.addTables[0]!.sizeBytes, 'served while leased')
  await file.close()
  t.equal(leader.replication.releaseLease(delta.leaseId!), true, 'released')
  t.equal(leader.replication.releaseLease(delta.leaseId!), false, 'a second release is a no-op')
  await fill(leader, 400, 50)
  await new Promise((r) => setTimeout(r, 20))
  const after = new Set((await vfs.list('/l')).filter((n) => n.endsWith('.sst')))
  for (const id of ids) t.notOk(after.has(tableName(id)), `table ${id} deleted after release`)
  await t.rejects(leader.replication.openFile('table', ids[0]!), { code: 'NOT_FOUND' }, 'no longer served')
  await leader.close()
})

t.test('a lease expires on its own (no timer keeps the process alive)', async (t) => {
  const vfs = new MemVfs()
  const leader = await Tree.open('/l', { vfs, ...small, replication: { leaseTtlMs: 50 } })
  const since = leader.replication.state().versionId
  await fill(leader, 0, 200)
  const delta = leader.replication.delta(since, true)
  t.equal(leader.replication.leaseCount, 1)
  await leader.compact()
  await new Promise((r) => setTimeout(r, 120))
  t.equal(leader.replication.leaseCount, 0, 'expired')
  await fill(leader, 200, 50)
  await new Promise((r) => setTimeout(r, 20))
  const files = new Set(await vfs.list('/l'))
  for (const table of delta.addTables) t.notOk(files.has(tableName(table.id)), 'expired lease no longer pins')
  t.equal(leader.replication.releaseLease(delta.leaseId!), false, 'releasing an expired lease is a no-op')
  await leader.close()
})

t.test('the lease table is bounded; close releases every lease', async (t) => {
  const vfs = new MemVfs()
  const leader = await Tree.open('/l', { vfs, ...small })
  const since = leader.replication.state().versionId
  await fill(leader, 0, 100)
  let made = 0
  let refused: unknown
  for (;;) {
    try {
      leader.replication.delta(since, true)
      made++
    } catch (error) {
      refused = error
      break
    }
  }
  t.equal(made, 1024, 'LEASES_MAX leases')
  t.match(refused, { code: 'TOO_MANY_LEASES' })
  t.equal(leader.replication.delta(since, false).leaseId, null, 'a delta without a lease still works')
  await leader.close()
  t.throws(() => leader.replication, { code: 'CLOSED' })
})
