/**
 * End to end: a client that disconnects from GET /checkpoint leaves no checkpoint directory
 * behind. The REAL `strata serve`, a tree of ~40 MiB of incompressible values (so the stream
 * cannot finish into socket buffers), undici; the client reads some bytes and destroys the body
 * (or gives up before the answer starts); the test polls the data directory until the
 * temporary checkpoint is gone. The server keeps serving afterwards.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import t from 'tap'
import { request } from 'undici'

import { startServe, tempDir } from '../helpers/cli-process.js'

const TOKEN = 'backup-admin-token-0123456789'
const MiB = 1024 * 1024

const dir = tempDir('strata-e2e-backup-abort-')
t.teardown(dir.remove)
const dataDir = join(dir.path, 'data')
const tokensFile = join(dir.path, 'tokens.json')
writeFileSync(tokensFile, JSON.stringify([{ token: TOKEN, role: 'admin' }]))
const auth = { authorization: `Bearer ${TOKEN}` }

function streamDirs(): string[] {
  const parent = join(dataDir, '.checkpoints', 'big')
  return existsSync(parent) ? readdirSync(parent).filter((n) => n.startsWith('.')) : []
}

async function waitUntilClean(what: string): Promise<number> {
  const started = Date.now()
  while (streamDirs().length > 0) {
    if (Date.now() - started > 30_000) throw new Error(`${what}: temporary checkpoint still there after 30 s: ${streamDirs().join(', ')}`)
    await new Promise((r) => setTimeout(r, 25))
  }
  return Date.now() - started
}

t.test('a client that disconnects mid-stream leaves no checkpoint directory', async (t) => {
  const server = await startServe(['serve', '--data', dataDir, '--port', '0', '--tokens', tokensFile, '--sync', 'none', '--log-level', 'warn'])
  t.teardown(() => { server.child.kill('SIGKILL') })
  const base = server.url
  t.equal((await request(`${base}/v1/trees/big`, { method: 'PUT', headers: auth })).statusCode, 201)
  for (let i = 0; i < 40; i++) {
    const res = await request(`${base}/v1/trees/big/keys/k${i}`, { method: 'PUT', body: randomBytes(MiB), headers: { ...auth, 'content-type': 'application/octet-stream' } })
    await res.body.dump()
    if (res.statusCode !== 200) t.fail(`put ${i}: ${res.statusCode}`)
  }
  await (await request(`${base}/v1/trees/big/flush`, { method: 'POST', headers: auth })).body.dump()

  for (const query of ['', '?compression=zstd']) {
    const res = await request(`${base}/v1/trees/big/checkpoint${query}`, { headers: auth })
    t.equal(res.statusCode, 200, `GET /checkpoint${query}`)
    let read = 0
    for await (const chunk of res.body) {
      read += (chunk as Buffer).length
      if (read > 2 * MiB) break // for-await's break destroys the body: the connection closes
    }
    t.ok(read > 2 * MiB && read < 40 * MiB, `read ${(read / MiB).toFixed(1)} MiB of ~40, then disconnected`)
    const ms = await waitUntilClean(`GET /checkpoint${query}`)
    t.pass(`no temporary checkpoint ${ms} ms after the disconnect`)
  }

  // Gone before the answer even starts (the server is still hashing or linking).
  const controller = new AbortController()
  const pending = request(`${base}/v1/trees/big/checkpoint`, { headers: auth, signal: controller.signal })
  setTimeout(() => controller.abort(), 5)
  await pending.then((res) => res.body.destroy(), () => undefined)
  // The server may not have made its checkpoint yet: give it time to (it hashes ~40 MiB), so
  // the check below is not passed merely by being early.
  const deadline = Date.now() + 2000
  while (streamDirs().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
  await new Promise((r) => setTimeout(r, 500))
  t.pass(`no temporary checkpoint ${await waitUntilClean('early abort')} ms after an early abort`)

  // The server is fine: a full backup still streams and ends cleanly.
  const full = await request(`${base}/v1/trees/big/checkpoint`, { headers: auth })
  let total = 0
  for await (const chunk of full.body) total += (chunk as Buffer).length
  t.ok(total > 40 * MiB, `a full stream afterwards: ${(total / MiB).toFixed(1)} MiB`)
  await waitUntilClean('full stream')
  t.same(streamDirs(), [])
})
