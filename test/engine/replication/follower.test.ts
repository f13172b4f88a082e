// Follower side: installs keep a copy equal to its leader; WAL records make it fresher and are
// dropped exactly when a delta covers them (a counter is never merged twice); the position
// survives a restart; bad files and out-of-sequence input are refused without any change.
import t from 'tap'
import { MemVfs, Tree, type Vfs } from '../../../src/engine/index.js'
import { catchUp, contents, fetchTable, makeFollower, tableName } from './support.js'

const small = { memtableBytes: 8192, blockBytes: 512, tableBytes: 8192, backgroundThreads: 0 }

function counter(n: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigInt64LE(BigInt(n))
  return b
}

/**
 * Streams WAL records after the follower's position into it until `until` is applied; on
 * WAL_GONE (the records are in tables now) it catches up by a delta first, as a follower does.
 * Returns how many times it had to.
 */
async function streamWal(leader: Tree, follower: Tree, vfs: Vfs, epoch: { epoch: string; epochStartSeqno: number }, until: number): Promise<number> {
  let gone = 0
  for (;;) {
    const from = follower.replica.beginWalStream(epoch.epoch, epoch.epochStartSeqno)
    if (from >= until) return gone
    const ac = new AbortController()
    try {
      for await (const { seqno, record } of leader.replication.walRecords(from, ac.signal)) {
        follower.replica.applyBatch(record)
        if (seqno >= until) return gone
      }
    } catch (error) {
      if ((error as { code?: string }).code !== 'WAL_GONE') throw error
      gone++
      await catchUp(leader, follower, vfs)
    } finally {
      ac.abort()
    }
  }
}

t.test('writes are refused on a follower', async (t) => {
  const vfs = new MemVfs()
  const leader = await Tree.open('/l', { vfs, ...small })
  await leader.put('a', '1')
  const follower = await makeFollower(leader, '/f', { vfs })
  t.equal(follower.isFollower, true)
  await t.rejects(follower.put('a', '2'), { code: 'READ_ONLY' })
  await t.rejects(follower.batch().delete('a').write(), { code: 'READ_ONLY' })
  await t.rejects(follower.flush(), { code: 'READ_ONLY' })
  await t.rejects(follower.compact(), { code: 'READ_ONLY' })
  await t.rejects(follower.checkpoint('/c'), { code: 'READ_ONLY' })
  t.throws(() => follower.replication, { code: 'READ_ONLY' })
  t.throws(() => leader.replica, { code: 'INVALID_ARGUMENT' })
  t.equal(follower.get('a')?.toString(), '1')
  await follower.close()
  await leader.close()
})

t.test('WAL records make the follower fresh; a covering delta drops them exactly once', async (t) => {
  const vfs = new MemVfs()
  const leader = await Tree.open('/l', { vfs, ...small, mergeOperator: 'counter' })
  await leader.merge('c', counter(1))
  const follower = await makeFollower(leader, '/f', { vfs, mergeOperator: 'counter' })
  const epoch = leader.replication.state()
  let total = 1
  for (let round = 0; round < 6; round++) {
    let last = 0
    for (let i = 0; i < 150; i++) {
      last = await leader.merge('c', counter(1))
      await leader.put(`k${i}`, `r${round}`)
      total++
    }
    last = leader.seqno
    await streamWal(leader, follower, vfs, epoch, last)
    t.equal(follower.seqno, last, `round ${round}: WAL applied up to the leader`)
    t.equal(follower.get('c')!.readBigInt64LE(), BigInt(total), 'counter merged once per operand')
    if (round % 2 === 0) {
      await leader.flush()
      await catchUp(leader, follower, vfs)
      t.equal(follower.get('c')!.readBigInt64LE(), BigInt(total), 'after the delta covering them: still once')
      t.ok(follower.replica.position().memtableBytes === 0 || follower.replica.position().walSeqno > follower.replica.position().tablesSeqno, 'memtables hold only records above the tables')
    }
    t.same(contents(follower), contents(leader), `round ${round}: same contents`)
  }
  const pos = follower.replica.position()
  t.throws(() => follower.replica.applyBatch(recordAt(leader, pos.seqno + 2)), { code: 'REPLICA_DIVERGED' }, 'a gap is refused')
  await follower.close()
  await leader.close()
})

/** A put record at `seqno` built through a scratch leader (the record format is the engine's). */
function recordAt(_leader: Tree, seqno: number): Buffer {
  const out = Buffer.alloc(12 + 1 + 1 + 1 + 1 + 1)
  out.writeBigUInt64LE(BigInt(seqno), 0)
  out.writeUInt32LE(1, 8)
  out[12] = 1 // Put
  out[13] = 1 // key length
  out[14] = 0x78
  out[15] = 1 // value length
  out[16] = 0x79
  return out
}

t.test('a new leader epoch drops WAL records above its start; older ones stay', async (t) => {
  const vfs = new MemVfs()
  const leader = await Tree.open('/l', { vfs, ...small })
  await leader.put('base', '0')
  const follower = await makeFollower(leader, '/f', { vfs })
  const epoch = leader.replication.state()
  for (let i = 0; i < 20; i++) await leader.put(`k${i}`, 'v')
  await streamWal(leader, follower, vfs, epoch, leader.seqno)
  const applied = follower.seqno
  // The leader "restarted" and kept only what was durable up to applied - 5.
  const from = follower.replica.beginWalStream('another-epoch', applied - 5)
  t.equal(from, applied - 5, 'resume from the new epoch start')
  t.equal(follower.seqno, applied - 5, 'records above it dropped')
  t.equal(follower.get('k19'), undefined, 'a dropped record is not read')
  t.equal(follower.get('k10')?.toString(), 'v', 'an older record stays')
  await follower.close()
  await leader.close()
})

t.test('the installed version survives a restart; staged files are reused, not refetched', async (t) => {
  const vfs = new MemVfs()
  const leader = await Tree.open('/l', { vfs, ...small })
  for (let i = 0; i < 100; i++) await leader.put(`a${i}`, 'v')
  let follower = await makeFollower(leader, '/f', { vfs })
  for (let i = 0; i < 300; i++) await leader.put(`b${i}`, 'w'.repeat(40))
  await leader.flush()
  const delta = await catchUp(leader, follower, vfs)
  await follower.close()
  follower = await Tree.open('/f', { vfs, ...small, replication: { follower: true } })
  t.equal(follower.replica.position().versionId, delta.to, 'position from the manifest')
  t.equal(follower.seqno, delta.seqno)
  t.same(contents(follower), contents(leader))
  // A file received (and renamed into the tree directory) whose install never happened.
  for (let i = 0; i < 300; i++) await leader.put(`c${i}`, 'x'.repeat(40))
  await leader.flush()
  const next = leader.replication.delta(delta.to, true)
  for (const table of next.addTables) await fetchTable(leader, vfs, table.id, '/f')
  await follower.close()
  follower = await Tree.open('/f', { vfs, ...small, replication: { follower: true } })
  const staged = await vfs.list(follower.replicaStagingDir)
  t.same(staged.sort(), next.addTables.map((x) => tableName(x.id)).sort(), 'unreferenced tables moved to staging')
  await follower.replica.installDelta(next)
  t.same(contents(follower), contents(leader), 'installed from the staged files')
  await follower.close()
  await leader.close()
})

async function flipByte(vfs: Vfs, path: string, at: number): Promise<void> {
  const f = await vfs.openReadable(path)
  const data = f.readAt(0, f.sizeBytes)
  await f.close()
  data[at] ^= 0x40
  const w = await vfs.create(path)
  w.append(data)
  await w.sync()
  await w.close()
}

t.test('a corrupt or missing file is refused and nothing changes', async (t) => {
  const vfs = new MemVfs()
  const leader = await Tree.open('/l', { vfs, ...small })
  await leader.put('x', 'y')
  const follower = await makeFollower(leader, '/f', { vfs })
  const before = follower.replica.position()
  for (let i = 0; i < 300; i++) await leader.put(`k${i}`, 'z'.repeat(30))
  await leader.flush()
  const delta = leader.replication.delta(before.versionId!, true)
  await t.rejects(follower.replica.installDelta(delta), { code: 'NOT_FOUND' }, 'files not received')
  for (const table of delta.addTables) await fetchTable(leader, vfs, table.id, follower.replicaStagingDir)
  const victim = `${follower.replicaStagingDir}/${tableName(delta.addTables[0]!.id)}`
  await flipByte(vfs, victim, 100)
  await t.rejects(follower.replica.installDelta(delta), { code: 'CORRUPTION' }, 'checksum mismatch')
  t.same(follower.replica.position(), before, 'position unchanged')
  t.same([...contents(follower).keys()], ['x'])
  await t.rejects(follower.replica.installDelta({ ...delta, from: delta.from - 1 }), { code: 'REPLICA_DIVERGED' })
  await t.rejects(follower.replica.installDelta({ ...delta, treeId: 'other' }), { code: 'REPLICA_DIVERGED' })
  await fetchTable(leader, vfs, delta.addTables[0]!.id, follower.replicaStagingDir)
  await follower.replica.installDelta(delta)
  t.same(contents(follower), contents(leader), 'refetched file installs')
  await follower.close()
  await leader.close()
})

t.test('follower snapshots pin their view across installs; waitForSeqno', async (t) => {
  const vfs = new MemVfs()
  const leader = await Tree.open('/l', { vfs, ...small })
  for (let i = 0; i < 50; i++) await leader.put(`k${i}`, 'old')
  const follower = await makeFollower(leader, '/f', { vfs })
  const snap = follower.snapshot()
  const waiting = follower.waitForSeqno(leader.seqno + 50, 5000)
  for (let i = 0; i < 50; i++) await leader.put(`k${i}`, 'new')
  await leader.compact()
  await catchUp(leader, follower, vfs)
  t.equal(await waiting, true, 'woken by the install')
  t.equal(follower.get('k1')?.toString(), 'new')
  t.equal(follower.get('k1', { seqno: snap.seqno })?.toString(), 'old', 'the snapshot reads its pinned view')
  t.equal(contents(follower, snap.seqno).get('k7'), 'old')
  snap.release()
  t.throws(() => follower.get('k1', { seqno: snap.seqno }), { code: 'SEQNO_UNAVAILABLE' })
  t.equal(await follower.waitForSeqno(follower.seqno + 1, 10), false, 'times out')
  await follower.close()
  await leader.close()
})
