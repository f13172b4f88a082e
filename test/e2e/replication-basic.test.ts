/**
 * Replication end to end, two real processes (`strata serve` and `strata follow`):
 * - bootstrap of a tree with many tables; convergence after writes, flushes and compactions;
 * - writes on the follower answer 409 READ_ONLY_FOLLOWER with Location naming the leader;
 * - X-Min-Seqno waits for the follower (and a malformed one is 400);
 * - the follower SIGKILLed and restarted resumes without a bootstrap and downloads only the
 *   files it lacks (counted on the leader's metrics).
 * The leader's restart is in replication-leader-restart.test.ts.
 */
import { join } from 'node:path'
import t from 'tap'
import { converged, e2eWorkspace, freePort, Http, kill, metric, SCALE, startFollower, startLeader, waitFor } from '../replication/e2e-support.js'

const { dir, tokens, processes } = e2eWorkspace(t, 'strata-e2e-repl-')

async function fill(http: Http, round: number, n: number): Promise<void> {
  for (let i = 0; i < n; i += 100) {
    const ops = Array.from({ length: Math.min(100, n - i) }, (_, j) => ({ type: 'put', key: `k${String((i + j) * 7 % n).padStart(6, '0')}`, value: `r${round}-${i + j}-${'x'.repeat(40)}` }))
    await http.batch('t', ops)
  }
}

t.test('bootstrap, convergence, refusals, a follower restart', async (t) => {
  const port = await freePort()
  const leader = await startLeader(join(dir.path, 'leader'), tokens, {}, ['--port', String(port)])
  processes.push(leader)
  const L = new Http(leader.url)
  t.teardown(() => L.close())
  await L.json('PUT', '/v1/trees/t')
  const tablesWanted = 6
  for (let round = 0; round < tablesWanted; round++) {
    await fill(L, round, 400 * SCALE)
    await L.json('POST', '/v1/trees/t/flush')
  }
  const leaderTables = (await L.stats('t')).tables as number
  t.ok(leaderTables >= 2, `the leader has ${leaderTables} tables`)

  const followerDir = join(dir.path, 'follower')
  let follower = await startFollower(leader.url, followerDir)
  processes.push(follower)
  const F = new Http(follower.url, undefined)
  t.teardown(() => F.close())
  await waitFor('the follower to be ready', async () => (await F.call('GET', '/readyz')).status === 200)
  await converged(L, F, 't')
  t.same(await F.scanAll('t'), await L.scanAll('t'), 'bootstrap: same keys and values')
  t.equal((await F.stats('t')).tables, (await L.stats('t')).tables, 'same number of tables')

  // More writes, flushes and a major compaction on the leader.
  await fill(L, 100, 500 * SCALE)
  await L.json('POST', '/v1/trees/t/flush')
  await L.json('POST', '/v1/trees/t/compact')
  await fill(L, 101, 200 * SCALE)
  await L.json('POST', '/v1/trees/t/flush')
  await converged(L, F, 't')
  t.same(await F.scanAll('t'), await L.scanAll('t'), 'after writes, flushes and a compaction: same data')
  const replication = (await F.stats('t')).replication as Record<string, unknown>
  t.match(replication, { leader: `http://127.0.0.1:${port}`, seqnoLag: 0, secondsBehind: 0 })

  // Writes are refused with the leader's address.
  const refused = await F.call('PUT', '/v1/trees/t/keys/nope', 'x')
  t.equal(refused.status, 409)
  t.equal(JSON.parse(refused.body.toString()).code, 'READ_ONLY_FOLLOWER')
  t.equal(refused.headers['location'], `http://127.0.0.1:${port}/v1/trees/t/keys/nope`)
  t.equal((await F.call('POST', '/v1/trees/t/flush')).status, 409)
  t.equal((await F.call('PUT', '/v1/trees/other')).status, 409)

  // Read-your-writes: the read waits until the follower has the seqno.
  const seqno = await L.put('t', 'ryw', 'mine')
  const reading = F.get('t', 'ryw', { 'x-min-seqno': String(seqno) })
  await new Promise((r) => setTimeout(r, 300))
  await L.json('POST', '/v1/trees/t/flush')
  const read = await reading
  t.equal(read.status, 200, 'answered once applied')
  t.equal(read.body.toString(), 'mine')
  t.ok(Number(read.headers['x-seqno']) >= seqno, 'X-Seqno covers the write')
  t.equal((await F.get('t', 'ryw', { 'x-min-seqno': 'soon' })).status, 400, 'malformed X-Min-Seqno')

  // The follower dies and comes back: no bootstrap, only the new files are fetched.
  await converged(L, F, 't')
  const position = ((await F.stats('t')).replication as { versionId: number }).versionId
  await kill(follower)
  await fill(L, 200, 300 * SCALE)
  await L.json('POST', '/v1/trees/t/flush')
  const requestsBefore = metric(await L.metrics(), 'strata_replication_file_requests_total', 't')
  follower = await startFollower(leader.url, followerDir)
  processes.push(follower)
  F.base = follower.url
  await converged(L, F, 't')
  t.same(await F.scanAll('t'), await L.scanAll('t'), 'after the follower restart: same data')
  const newFiles = ((await L.json('GET', `/v1/trees/t/replication/delta?since=${position}`)).addTables as unknown[]).length
  const requests = metric(await L.metrics(), 'strata_replication_file_requests_total', 't') - requestsBefore
  t.equal(requests, newFiles, `only the ${newFiles} new file(s) were downloaded`)
  t.notMatch(follower.output().stdout, /bootstrapping/, 'no bootstrap after the restart')
  t.match(follower.output().stdout, /follower copy opened/)
})
