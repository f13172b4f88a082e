// The leader's WAL stream: records from the WAL files, then live ones, with no gap or repeat
// while writers run and memtables rotate; a reader that falls too far behind ends with
// WAL_GONE instead of buffering without bound; close ends every stream.
import t from 'tap'
import { MemVfs, Tree, type WalRecord } from '../../../src/engine/index.js'

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

t.test('walBatches: a burst committed while the reader is away comes as one bounded batch', async (t) => {
  const vfs = new MemVfs()
  const leader = await Tree.open('/l', { vfs, ...small })
  for (let i = 0; i < 30; i++) await leader.put(`pre${i}`, 'p'.repeat(100))
  const since = leader.replication.state().tablesSeqno
  // Catch-up from the WAL files: batches of at most maxBytes (but at least one record).
  const maxBytes = 1000
  const catchUp = leader.replication.walBatches(since, undefined, maxBytes)
  const fromFiles: number[][] = []
  while (fromFiles.flat().length < leader.seqno - since) {
    const value = (await catchUp.next()).value as WalRecord[]
    const bytes = value.reduce((n, r) => n + r.record.length, 0)
    if (value.length > 1) t.ok(bytes <= maxBytes, `a catch-up batch holds ${bytes} bytes`)
    fromFiles.push(value.map((r) => r.seqno))
  }
  t.ok(fromFiles.length > 1 && fromFiles.some((b) => b.length > 1), `${fromFiles.length} catch-up batches, several records each`)
  t.same(fromFiles.flat(), Array.from({ length: leader.seqno - since }, (_, i) => since + 1 + i), 'consecutive')
  // Live: commits made while the reader does not read are handed out together.
  const burstFrom = leader.seqno
  await Promise.all(Array.from({ length: 20 }, (_, i) => leader.put(`burst${i}`, 'b')))
  const burst = (await catchUp.next()).value as WalRecord[]
  t.same(burst.map((r) => r.seqno), Array.from({ length: 20 }, (_, i) => burstFrom + 1 + i), 'the whole burst in one batch')
  const big = Buffer.alloc(600, 1)
  for (let i = 0; i < 5; i++) await leader.put(`big${i}`, big)
  const sizes: number[] = []
  while (sizes.length < 5) {
    const value = (await catchUp.next()).value as WalRecord[]
    sizes.push(...value.map(() => value.length))
  }
  t.ok(sizes.every((n) => n <= 1), 'records of 600+ bytes: one per 1000-byte batch')
  await catchUp.return(undefined)
  t.equal(leader.replication.walStreams, 0, 'return() drops the subscription')
  t.throws(() => leader.replication.walBatches(leader.seqno + 1), { code: 'INVALID_ARGUMENT' }, 'arguments are checked synchronously')
  await leader.close()
})
