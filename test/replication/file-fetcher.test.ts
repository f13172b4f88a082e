// The follower's file downloads against a real leader app: a partial download resumes with
// Range (only the missing bytes travel); a damaged partial is caught by the CRC-32C and fetched
// again whole; a complete staged file is used as is.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { LeaderClient } from '../../src/replication/client.js'
import { fetchFile } from '../../src/replication/file-fetcher.js'
import { parseWireDelta } from '../../src/replication/protocol.js'
import { tempDir } from '../helpers/cli-process.js'
import { TOKEN_ENTRIES, TOKENS, bearer, createTree, makeApp, putKey } from '../http/helpers.js'

t.test('resume, refetch, reuse', async (t) => {
  const { app } = await makeApp(t, { tokens: TOKEN_ENTRIES, real: true })
  await createTree(t, app, 'f', undefined, bearer('admin'))
  const since = (await app.inject({ url: '/v1/trees/f/replication/state', headers: bearer('admin') })).json().versionId
  for (let i = 0; i < 500; i++) await putKey(app, 'f', `k${i}`, 'v'.repeat(60), bearer('admin'))
  await app.inject({ method: 'POST', url: '/v1/trees/f/flush', headers: bearer('admin') })
  const delta = parseWireDelta((await app.inject({ url: `/v1/trees/f/replication/delta?since=${since}`, headers: bearer('admin') })).json())
  const table = delta.addTables[0]!
  const whole = (await app.inject({ url: `/v1/trees/f/replication/files/tables/${table.id}`, headers: bearer('admin') })).rawPayload
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const client = new LeaderClient({ leaderUrl: address, token: TOKENS.admin })
  t.teardown(() => client.close())
  const scratch = tempDir('strata-fetch-')
  t.teardown(scratch.remove)
  const staging = join(scratch.path, 'staging')
  mkdirSync(staging)
  const name = `${String(table.id).padStart(6, '0')}.sst`
  const target = { tree: 'f', id: table.id, sizeBytes: table.sizeBytes, checksum: table.checksum }
  const bytesSent = async () => Number(/strata_replication_file_bytes_total\{tree="f"\} (\d+)/.exec((await app.inject({ url: '/metrics' })).body)?.[1] ?? 0)

  writeFileSync(join(staging, `${name}.part`), whole.subarray(0, 1000))
  let before = await bytesSent()
  t.equal(await fetchFile(client, target, staging), 'downloaded')
  t.equal(await bytesSent() - before, whole.length - 1000, 'only the missing bytes were sent (Range)')
  t.same(readFileSync(join(staging, name)), whole)

  t.equal(await fetchFile(client, target, staging), 'present', 'a complete staged file is reused')

  const damaged = Buffer.from(whole.subarray(0, 1000))
  damaged[10] ^= 0xff
  writeFileSync(join(staging, `${name}.part`), damaged)
  writeFileSync(join(staging, name), Buffer.alloc(0)) // a bad "complete" file is dropped too
  const mismatches: string[] = []
  before = await bytesSent()
  t.equal(await fetchFile(client, target, staging, { onMismatch: (_id, why) => mismatches.push(why) }), 'downloaded')
  t.same(mismatches, ['checksum mismatch'], 'the damaged part was caught')
  t.equal(await bytesSent() - before, whole.length - 1000 + whole.length, 'then fetched again whole')
  t.same(readFileSync(join(staging, name)), whole)

  await t.rejects(fetchFile(client, { ...target, checksum: (target.checksum + 1) >>> 0 }, join(staging, 'x-nonexistent')), /ENOENT/, 'no staging directory: an error, not a silent success')
  mkdirSync(join(staging, 'y'))
  await t.rejects(fetchFile(client, { ...target, checksum: (target.checksum + 1) >>> 0 }, join(staging, 'y')), /failed verification 3 times/, 'a file that never verifies is given up')
})
