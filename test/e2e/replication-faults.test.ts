/**
 * Replication end to end, two real processes, with faults between them:
 * - a corrupted download: a proxy between follower and leader flips one byte of the first
 *   file it carries; the follower's CRC-32C check catches it and fetches the file again;
 * - a lease expiring while the follower is slow: the leader's leases last 300 ms (test-only
 *   STRATA_REPLICATION_LEASE_TTL_MS); the proxy holds the follower's first file request of a
 *   delta while a compaction obsoletes that file and the lease runs out; the follower gets
 *   404 FILE_NOT_FOUND, takes a new delta and still converges. (The follower also runs with
 *   --max-transfer-mbps throughout.)
 */
import { createServer, request as httpRequest, type Server } from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import { converged, e2eWorkspace, freePort, Http, metric, SCALE, startFollower, startLeader } from '../replication/e2e-support.js'

const { dir, tokens, processes } = e2eWorkspace(t, 'strata-e2e-repl-faults-')

interface Proxy {
  url: string
  server: Server
  flipped: () => number
  /** The next file request of tree `tree` is held until the returned release() is called;
   *  `held` resolves once it arrived. */
  holdNextFile: (tree: string) => { held: Promise<void>; release: () => void }
}

/** An HTTP proxy to `target` that flips one byte in the middle of the first replication file
 *  body it carries, and can hold a file request. */
async function faultyProxy(target: string): Promise<Proxy> {
  const to = new URL(target)
  let flipped = 0
  let hold: { tree: string; arrived: () => void; released: Promise<void> } | undefined
  const server = createServer((req, res) => {
    const h = hold
    if (h !== undefined && (req.url ?? '').startsWith(`/v1/trees/${h.tree}/replication/files/`)) {
      hold = undefined
      h.arrived()
      void h.released.then(() => forward(req, res))
      return
    }
    forward(req, res)
  })
  function forward(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void {
    const upstream = httpRequest({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      const corrupt = flipped === 0 && /\/replication\/files\//.test(req.url ?? '') && up.statusCode === 200
      if (corrupt) flipped++
      let seen = 0
      const size = Number(up.headers['content-length'] ?? 0)
      up.on('data', (chunk: Buffer) => {
        if (corrupt && seen <= size >> 1 && seen + chunk.length > size >> 1) {
          chunk = Buffer.from(chunk)
          chunk[(size >> 1) - seen] ^= 0x01
        }
        seen += chunk.length
        res.write(chunk)
      })
      up.on('end', () => res.end())
    })
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    server,
    flipped: () => flipped,
    holdNextFile: (tree) => {
      let arrived!: () => void
      let release!: () => void
      const held = new Promise<void>((resolve) => { arrived = resolve })
      const released = new Promise<void>((resolve) => { release = resolve })
      hold = { tree, arrived, released }
      return { held, release }
    },
  }
}

async function fill(http: Http, tree: string, tag: string, n: number, valueBytes = 40): Promise<void> {
  for (let i = 0; i < n; i += 200) {
    const ops = Array.from({ length: Math.min(200, n - i) }, (_, j) => ({ type: 'put', key: `${tag}${String(i + j).padStart(6, '0')}`, value: `${tag}-${i + j}-${'v'.repeat(valueBytes)}` }))
    await http.batch(tree, ops)
  }
}

t.test('a corrupted download is refetched; an expired lease is survived', async (t) => {
  const started = Date.now()
  const phase = (what: string) => t.comment(`${what} at ${Date.now() - started} ms`)
  // The proxy, the follower and the leader start together (loading the sources is the slow
  // part); the follower retries until the leader answers through the proxy.
  const port = await freePort()
  const proxy = await faultyProxy(`http://127.0.0.1:${port}`)
  t.teardown(() => proxy.server.close())
  const starting = startFollower(proxy.url, join(dir.path, 'follower'), ['--max-transfer-mbps', '40'])
  const leader = await startLeader(join(dir.path, 'leader'), tokens, { STRATA_REPLICATION_LEASE_TTL_MS: '300' }, ['--port', String(port)])
  processes.push(leader)
  const L = new Http(leader.url)
  t.teardown(() => L.close())
  await L.json('PUT', '/v1/trees/c')
  await L.json('PUT', '/v1/trees/s')
  await fill(L, 'c', 'c', 50)
  await fill(L, 's', 's', 50)
  await L.json('POST', '/v1/trees/c/flush')
  await L.json('POST', '/v1/trees/s/flush')

  const follower = await starting
  processes.push(follower)
  const F = new Http(follower.url, undefined)
  t.teardown(() => F.close())
  phase('follower started')
  await converged(L, F, 'c', 60_000)
  await converged(L, F, 's', 60_000)
  phase('bootstrapped')

  // Corruption: the next file through the proxy gets one byte flipped.
  await fill(L, 'c', 'd', 300 * SCALE)
  await L.json('POST', '/v1/trees/c/flush')
  await converged(L, F, 'c', 60_000)
  t.equal(proxy.flipped(), 1, 'the proxy corrupted one download')
  t.ok(metric(await F.metrics(), 'strata_replication_refetches', 'c') >= 1, 'the follower fetched it again')
  t.match(follower.output().stdout, /failed verification/)
  t.same(await F.scanAll('c'), await L.scanAll('c'), 'no corrupt byte reached the copy')

  phase('corruption done')
  // Slow follower, short lease: the file request waits while the file is compacted away and
  // the 300 ms lease runs out.
  const { held, release } = proxy.holdNextFile('s')
  await fill(L, 's', 'big', 500 * SCALE, 100)
  await L.json('POST', '/v1/trees/s/flush')
  await held
  await L.json('POST', '/v1/trees/s/compact')
  await new Promise((r) => setTimeout(r, 400))
  await fill(L, 's', 'after', 10)
  await L.json('POST', '/v1/trees/s/flush') // one more edit: the deferred deletions run
  release()
  await converged(L, F, 's', 60_000)
  phase('lease done')
  t.match(follower.output().stdout, /FILE_NOT_FOUND/, 'a leased file was gone when the slow download came back for it')
  t.same(await F.scanAll('s'), await L.scanAll('s'), 'converged anyway')
})
