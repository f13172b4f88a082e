/**
 * Replication end to end, two real processes: what sends a follower back to a bootstrap.
 * - 410 VERSION_GONE: the follower was down while the leader moved more versions than its
 *   history holds (shrunk with the test-only STRATA_REPLICATION_HISTORY_EDITS); on restart it
 *   bootstraps again into a new copy, and reads are answered from the old copy meanwhile;
 * - a leader tree replaced by another of the same name (drop + create): the follower notices
 *   the new treeId and bootstraps; the old tree's keys are gone from it.
 */
import { join } from 'node:path'
import t from 'tap'
import { converged, e2eWorkspace, freePort, Http, kill, SCALE, startFollower, startLeader, waitFor } from '../replication/e2e-support.js'

const { dir, tokens, processes } = e2eWorkspace(t, 'strata-e2e-repl-rec-')

async function fill(http: Http, tree: string, tag: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 200) {
    const ops = Array.from({ length: Math.min(200, n - i) }, (_, j) => ({ type: 'put', key: `${tag}${String(i + j).padStart(6, '0')}`, value: `${tag}-${i + j}` }))
    await http.batch(tree, ops)
  }
}

t.test('VERSION_GONE and a replaced tree lead to bootstraps; reads go on meanwhile', async (t) => {
  // Both processes start together (loading the sources is the slow part); the follower
  // retries until the leader answers.
  const port = await freePort()
  const followerDir = join(dir.path, 'follower')
  const starting = startFollower(`http://127.0.0.1:${port}`, followerDir)
  const leader = await startLeader(join(dir.path, 'leader'), tokens, { STRATA_REPLICATION_HISTORY_EDITS: '3' }, ['--port', String(port)])
  processes.push(leader)
  const L = new Http(leader.url)
  t.teardown(() => L.close())
  await L.json('PUT', '/v1/trees/h')
  await fill(L, 'h', 'a', 300 * SCALE)
  await L.json('POST', '/v1/trees/h/flush')
  let follower = await starting
  processes.push(follower)
  const F = new Http(follower.url, undefined)
  t.teardown(() => F.close())
  await converged(L, F, 'h')

  // Down while the leader moves on by more than 3 versions.
  await kill(follower)
  for (let round = 0; round < 6; round++) {
    await fill(L, 'h', `b${round}-`, 100 * SCALE)
    await L.json('POST', '/v1/trees/h/flush')
  }
  follower = await startFollower(leader.url, followerDir)
  processes.push(follower)
  F.base = follower.url
  // The old copy serves at once, and keeps serving until the new one is complete.
  const answers: number[] = []
  let reading = true
  const reader = (async () => {
    while (reading) answers.push((await F.get('h', 'a000007')).status)
  })()
  await converged(L, F, 'h', 60_000)
  reading = false
  await reader
  t.ok(answers.length > 0 && answers.every((s) => s === 200), `${answers.length} reads during the re-bootstrap, all 200`)
  t.match(follower.output().stdout, /cannot serve a delta from this version/, 'the leader answered 410')
  t.match(follower.output().stdout, /bootstrap complete/)
  t.same(await F.scanAll('h'), await L.scanAll('h'), 'same data after the re-bootstrap')

  // The tree is replaced on the leader: another treeId.
  const oldTreeId = (await F.stats('h')).treeId
  await L.call('DELETE', '/v1/trees/h')
  await L.json('PUT', '/v1/trees/h')
  await fill(L, 'h', 'new', 50 * SCALE)
  await L.json('POST', '/v1/trees/h/flush')
  await waitFor('the follower to follow the new tree', async () => (await F.stats('h')).treeId !== oldTreeId, 60_000)
  await converged(L, F, 'h', 60_000)
  t.match(follower.output().stdout, /another treeId/, 'noticed by its treeId')
  const data = await F.scanAll('h')
  t.same(data, await L.scanAll('h'), 'the new tree, and nothing of the old one')
  t.notOk(data.has('a000007'))
})
