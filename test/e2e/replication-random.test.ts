/**
 * Randomized replication end to end: random writes (puts, deletes, batches, range deletes) and
 * random flushes and compactions on the leader, while the follower (a real process, with the
 * WAL stream on some runs) is SIGKILLed and restarted at random moments. At the end, at the
 * same seqno, every key and value of the follower equals the leader's. Seeded: replay with
 * STRATA_SEED=<seed>; STRATA_TEST_SCALE raises the restarts and the writes.
 */
import { join } from 'node:path'
import t from 'tap'
import { prng } from '../http/helpers.js'
import { converged, e2eWorkspace, freePort, Http, kill, SCALE, startFollower, startLeader } from '../replication/e2e-support.js'

const SEED = Number(process.env['STRATA_SEED'] ?? Date.now() % 1_000_000)
t.comment(`seed ${SEED} (replay with STRATA_SEED=${SEED})`)
const random = prng(SEED)
const int = (n: number) => Math.floor(random() * n)

const { dir, tokens, processes } = e2eWorkspace(t, 'strata-e2e-repl-random-')

const key = () => `k${String(int(2000)).padStart(5, '0')}`

async function randomWrite(L: Http): Promise<void> {
  const roll = random()
  if (roll < 0.6) await L.put('r', key(), `v${int(1e9)}`)
  else if (roll < 0.75) await L.call('DELETE', `/v1/trees/r/keys/${key()}`)
  else if (roll < 0.95) {
    const ops = Array.from({ length: 1 + int(50) }, () => (random() < 0.8 ? { type: 'put', key: key(), value: `b${int(1e9)}` } : { type: 'delete', key: key() }))
    await L.batch('r', ops)
  } else {
    const a = key()
    const b = key()
    if (a < b) await L.json('POST', '/v1/trees/r/delete-range', { start: a, end: b })
  }
  const maintenance = random()
  if (maintenance < 0.02) await L.json('POST', '/v1/trees/r/flush')
  else if (maintenance < 0.025) await L.json('POST', '/v1/trees/r/compact')
}

const restartsTotal = SCALE

t.test('random writes, random follower restarts: the follower ends equal to the leader', async (t) => {
  const restarts = restartsTotal
  // The WAL stream on a random half of the runs, and always on the last one (checked below).
  const args = (last = false) => ['--trees', 'r', ...(last || random() < 0.5 ? ['--wal'] : [])]
  // Both processes start together; the follower retries until the leader and its tree answer.
  const port = await freePort()
  const followerDir = join(dir.path, 'follower')
  const starting = startFollower(`http://127.0.0.1:${port}`, followerDir, args(restartsTotal === 0))
  const leader = await startLeader(join(dir.path, 'leader'), tokens, {}, ['--port', String(port)])
  processes.push(leader)
  const L = new Http(leader.url)
  t.teardown(() => L.close())
  await L.json('PUT', '/v1/trees/r')
  for (let i = 0; i < 200; i++) await randomWrite(L)
  let follower = await starting
  processes.push(follower)
  const F = new Http(follower.url, undefined)
  t.teardown(() => F.close())
  for (let cycle = 0; cycle <= restarts; cycle++) {
    const writes = 200 + int(400 * SCALE)
    const killAt = int(writes)
    for (let i = 0; i < writes; i++) {
      await randomWrite(L)
      if (cycle < restarts && i === killAt) {
        await kill(follower)
        follower = await startFollower(leader.url, followerDir, args(cycle === restarts - 1))
        processes.push(follower)
        F.base = follower.url
      }
    }
  }
  await L.json('POST', '/v1/trees/r/flush')
  await converged(L, F, 'r', 60_000)
  const leaderSeqno = (await L.stats('r')).seqno
  t.equal((await F.stats('r')).seqno, leaderSeqno, 'the same seqno')
  const [l, f] = await Promise.all([L.scanAll('r'), F.scanAll('r')])
  t.ok(l.size > 0, `${l.size} keys`)
  t.same(f, l, 'every key and value equal')
  t.equal(((await F.stats('r')).replication as { seqnoLag: number }).seqnoLag, 0)

  // With the WAL stream a write shows on the follower without any flush on the leader.
  const started = Date.now()
  const seqno = await L.put('r', 'fresh', 'now')
  const read = await F.get('r', 'fresh', { 'x-min-seqno': String(seqno) })
  t.equal(read.status, 200)
  t.equal(read.body.toString(), 'now')
  t.ok(Date.now() - started < 3_000, `visible on the follower after ${Date.now() - started} ms, unflushed`)
})
