// The leader's WAL stream: records from the WAL files, then live ones, with no gap or repeat
// while writers run and memtables rotate; a reader that falls too far behind ends with
// WAL_GONE instead of buffering without bound; close ends every stream.
import t from 'tap'
import { MemVfs, Tree } from '../../../src/engine/index.js'

const small = { memtableBytes: 64 * 1024, blockBytes: 512, tableBytes: 16384, backgroundThreads: 0 }

t.test('consecutive records from disk then live, under concurrent writers', async (t) => {
  const vfs = new MemVfs()
  const leader = await Tree.open('/l', { vfs, ...small })
  for (let i = 0; i < 200; i++) await leader.put(`pre${i}`, 'x'.repeat(50))
  const since = leader.replication.state().tablesSeqno
  const ac = new AbortController()
  const seen: number[] = []
  let mislabeled = 0
  let stop = false
  const writers = [1, 2, 3].map(async (w) => {
    for (let i = 0; !stop; i++) await leader.put(`w${w}-${i % 50}`, 'y'.repeat(40))
  })
  const target = since + 3000
  for await (const { seqno, record } of leader.replication.walRecords(since, ac.signal)) {
    if (record.readBigUInt64LE(0) !== BigInt(seqno)) mislabeled++
    seen.push(seqno)
    if (seqno >= target) break
  }
  stop = true
  await Promise.all(writers)
  ac.abort()
  t.equal(mislabeled, 0, 'every record carries its seqno')
  t.equal(seen[0], since + 1, 'starts right after since')
  t.ok(seen.every((s, i) => i === 0 || s === seen[i - 1]! + 1), 'no gap, no repeat')
  t.equal(leader.replication.walStreams, 0, 'the subscription is gone after the loop')
  await leader.close()
})

t.test('a stream that cannot start or falls behind ends with WAL_GONE', async (t) => {
  const vfs = new MemVfs()
  const leader = await Tree.open('/l', { vfs, ...small })
  for (let i = 0; i < 2000; i++) await leader.put(`k${i}`, 'z'.repeat(100))
  await leader.flush()
  const gone = leader.replication.walRecords(1)
  await t.rejects(gone.next(), { code: 'WAL_GONE' }, 'records now in tables')
  t.throws(() => leader.replication.walRecords(leader.seqno + 1), { code: 'INVALID_ARGUMENT' }, 'ahead of the leader')
  const slow = leader.replication.walRecords(leader.seqno)
  const first = slow.next() // subscribes and waits
  await leader.put('one', 'more')
  t.equal((await first).value?.seqno, leader.seqno, 'the live record')
  const big = Buffer.alloc(256 * 1024, 7)
  for (let i = 0; i < 70; i++) await leader.put(`big${i % 5}`, big) // > 16 MiB queued, unread
  await t.rejects(slow.next(), { code: 'WAL_GONE' }, 'fell behind')
  t.equal(leader.replication.walStreams, 0)
  const open = leader.replication.walRecords(leader.seqno)
  const pending = open.next()
  await leader.close()
  t.equal((await pending).done, true, 'close ends the stream')
})
