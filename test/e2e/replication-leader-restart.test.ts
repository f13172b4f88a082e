/**
 * Replication end to end, two real processes: the leader SIGKILLed while a follower follows it,
 * and restarted on the same port. Reads go on from the follower meanwhile; the follower
 * reconnects (backoff) and keeps following with deltas, without a bootstrap: the restarted
 * leader serves deltas from the edit history it seeds from its manifest.
 */
import { join } from 'node:path'
import t from 'tap'
import { converged, e2eWorkspace, freePort, Http, kill, SCALE, startFollower, startLeader } from '../replication/e2e-support.js'

const { dir, tokens, processes } = e2eWorkspace(t, 'strata-e2e-repl-lr-')

async function fill(http: Http, tag: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 200) {
    const ops = Array.from({ length: Math.min(200, n - i) }, (_, j) => ({ type: 'put', key: `${tag}${String(i + j).padStart(6, '0')}`, value: `${tag}-${i + j}` }))
    await http.batch('t', ops)
  }
}

t.test('the leader dies and comes back: the follower keeps following', async (t) => {
  const port = await freePort()
  const starting = startFollower(`http://127.0.0.1:${port}`, join(dir.path, 'follower'), ['--trees', 't', '--wal'])
  let leader = await startLeader(join(dir.path, 'leader'), tokens, {}, ['--port', String(port)])
  processes.push(leader)
  const L = new Http(leader.url)
  t.teardown(() => L.close())
  await L.json('PUT', '/v1/trees/t')
  await fill(L, 'a', 500 * SCALE)
  await L.json('POST', '/v1/trees/t/flush')
  const follower = await starting
  processes.push(follower)
  const F = new Http(follower.url, undefined)
  t.teardown(() => F.close())
  await converged(L, F, 't', 60_000)
  // Unflushed writes too: with --wal they reach the follower; the restarted leader flushes them.
  await fill(L, 'b', 200 * SCALE)

  await kill(leader)
  const whileDown = await F.get('t', 'a000007')
  t.equal(whileDown.status, 200, 'reads go on while the leader is down')
  t.equal((await F.call('PUT', '/v1/trees/t/keys/x', 'y')).status, 409, 'writes still refused')
  leader = await startLeader(join(dir.path, 'leader'), tokens, {}, ['--port', String(port)])
  processes.push(leader)
  await fill(L, 'c', 300 * SCALE)
  await L.json('POST', '/v1/trees/t/flush')
  await converged(L, F, 't', 60_000)
  t.same(await F.scanAll('t'), await L.scanAll('t'), 'after the leader restart: same data')
  t.equal((await F.scanAll('t')).size, 1000 * SCALE, 'nothing lost on either side')
  t.notMatch(follower.output().stdout, /cannot serve a delta|another treeId/, 'no re-bootstrap')
  t.equal((follower.output().stdout.match(/bootstrap complete/g) ?? []).length, 1, 'one bootstrap in all')
})
