// Leader side: a delta composed from the edit history brings a follower to exactly the
// leader's Version (randomized flushes and compactions between catch-ups); VERSION_GONE outside
// the history; the history survives a restart; long-polls wake on a new version.
import t from 'tap'
import { MemVfs, Tree } from '../../../src/engine/index.js'
import { Prng } from '../../helpers/prng.js'
import { catchUp, contents, levels, makeFollower } from './support.js'

const small = { memtableBytes: 8192, blockBytes: 512, tableBytes: 8192, backgroundThreads: 0 }
const scale = Number(process.env.STRATA_TEST_SCALE ?? '1')

t.test('randomized: follower catch-ups equal the leader (composed deltas vs edits one by one)', async (t) => {
  const seed = Number(process.env.STRATA_SEED ?? Date.now() % 1e9)
  t.comment(`seed ${seed}`)
  const rng = new Prng(seed)
  const vfs = new MemVfs()
  const leader = await Tree.open('/leader', { vfs, ...small, mergeOperator: 'counter' })
  const written = new Map<number, [string, string | null]>()
  for (let i = 0; i < 50; i++) written.set(await leader.put(`k${i}`, `v${i}`), [`k${i}`, `v${i}`])
  const follower = await makeFollower(leader, '/follower', { vfs, mergeOperator: 'counter' })
  const rounds = 30 * scale
  let installs = 0
  for (let round = 0; round < rounds; round++) {
    const ops = rng.range(0, 400)
    for (let i = 0; i < ops; i++) {
      const key = `k${rng.int(300)}`
      if (rng.bool(0.15)) written.set(await leader.delete(key), [key, null])
      else {
        const value = `r${round}-${i}-${'x'.repeat(rng.int(60))}`
        written.set(await leader.put(key, value), [key, value])
      }
    }
    if (rng.bool(0.5)) await leader.flush()
    if (rng.bool(0.2)) await leader.compact()
    if (rng.bool(0.6)) {
      // Background compaction may move the leader on meanwhile: compare with the Version the
      // delta was taken at (captured in the same synchronous step).
      let leaderLevels = ''
      const delta = await catchUp(leader, follower, vfs, () => {
        leaderLevels = levels(leader)
      })
      installs++
      t.equal(levels(follower), leaderLevels, `round ${round}: same tables per level at version ${delta.to}`)
      const expected = new Map<string, string>()
      for (const s of [...written.keys()].sort((a, b) => a - b)) {
        if (s > delta.seqno) break
        const [k, v] = written.get(s)!
        if (v === null) expected.delete(k)
        else expected.set(k, v)
      }
      t.same(contents(follower), expected, `round ${round}: follower holds exactly the writes up to ${delta.seqno}`)
      t.equal(follower.seqno, delta.seqno, 'reads see the delta seqno')
    }
  }
  t.ok(installs > 0, `${installs} installs`)
  await follower.close()
  await leader.close()
})

t.test('VERSION_GONE outside the history; an empty delta has from = to and no lease', async (t) => {
  const vfs = new MemVfs()
  const leader = await Tree.open('/l', { vfs, ...small, replication: { historyEdits: 3 } })
  const start = leader.replication.state().versionId
  const empty = leader.replication.delta(start, true)
  t.same([empty.from, empty.to, empty.leaseId, empty.addTables.length], [start, start, null, 0])
  for (let i = 0; i < 5; i++) {
    await leader.put(`k${i}`, 'v')
    await leader.flush()
  }
  const now = leader.replication.state().versionId
  t.throws(() => leader.replication.delta(start, true), { code: 'VERSION_GONE' }, 'older than the history')
  t.throws(() => leader.replication.delta(now + 1, true), { code: 'VERSION_GONE' }, 'newer than now')
  const d = leader.replication.delta(now - 3, true)
  t.equal(d.to - d.from, 3, 'three edits')
  t.ok(d.addTables.length >= 1, 'adding tables')
  t.type(d.leaseId, 'string')
  await leader.close()
})

t.test('a restarted leader still serves deltas from the versions its manifest holds', async (t) => {
  const vfs = new MemVfs()
  let leader = await Tree.open('/l', { vfs, ...small })
  for (let i = 0; i < 100; i++) await leader.put(`k${i}`, 'v')
  const follower = await makeFollower(leader, '/f', { vfs })
  for (let i = 100; i < 300; i++) await leader.put(`k${i}`, 'v'.repeat(30))
  await leader.flush()
  await leader.close()
  leader = await Tree.open('/l', { vfs, ...small })
  const delta = await catchUp(leader, follower, vfs)
  t.ok(delta.addTables.length > 0, 'the delta spans the restart')
  t.same(contents(follower), contents(leader), 'follower equals the restarted leader')
  await follower.close()
  await leader.close()
})

t.test('long-poll: resolves on a new version, false on timeout or abort', async (t) => {
  const vfs = new MemVfs()
  const leader = await Tree.open('/l', { vfs, ...small })
  const v = leader.replication.state().versionId
  t.equal(await leader.replication.waitForVersion(v, 20), false, 'timeout')
  const ac = new AbortController()
  const aborted = leader.replication.waitForVersion(v, 10_000, ac.signal)
  ac.abort()
  t.equal(await aborted, false, 'abort')
  const waiting = leader.replication.waitForVersion(v, 10_000)
  await leader.put('a', 'b')
  await leader.flush()
  t.equal(await waiting, true, 'woken by the flush')
  await t.rejects(leader.replication.waitForVersion(v, 30_001), { code: 'INVALID_ARGUMENT' })
  const closing = leader.replication.waitForVersion(leader.replication.state().versionId, 10_000)
  await leader.close()
  t.equal(await closing, false, 'close ends long-polls')
})
