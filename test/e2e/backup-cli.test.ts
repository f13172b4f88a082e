/**
 * End to end with the REAL command line: `strata serve`, `strata backup` (.tar and .tar.zst),
 * GNU `tar` and `zstd -d` (when installed) unpacking a backup into a data directory that another
 * `strata serve` opens with the same data, `strata restore` offline (new treeId, equal contents;
 * refused on a data directory a server holds), and the HTTP restore of a file streamed with
 * undici. Each child process loads the TypeScript sources (seconds of CPU), so the failure modes
 * of the commands are tested in-process (test/backup/cli-commands.test.ts).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, openAsBlob, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import t from 'tap'
import { FormData, request } from 'undici'

import { Tree } from '../../src/engine/index.js'
import { runCli, startServe, tempDir } from '../helpers/cli-process.js'

const TOKEN = 'backup-cli-admin-token-0123456789'
const dir = tempDir('strata-e2e-backup-cli-')
t.teardown(dir.remove)
const tokensFile = join(dir.path, 'tokens.json')
writeFileSync(tokensFile, JSON.stringify([{ token: TOKEN, role: 'admin' }]))
const auth = { authorization: `Bearer ${TOKEN}` }
const hasTar = spawnSync('tar', ['--version']).status === 0
const hasZstd = spawnSync('zstd', ['--version']).status === 0

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers of several routes, checked field by field
async function json(url: string, init: Parameters<typeof request>[1] = {}): Promise<{ status: number; body: any }> {
  const res = await request(url, { ...init, headers: { ...auth, ...(init.headers as Record<string, string> | undefined) } })
  const text = await res.body.text()
  return { status: res.statusCode, body: text === '' ? undefined : JSON.parse(text) }
}

/** Every key/value of `tree` on the server at `base`, through the scan API. */
async function scanAll(base: string, tree: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  let cursor: string | undefined
  do {
    const { status, body } = await json(`${base}/v1/trees/${tree}/scan?limit=1000${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
    if (status !== 200) throw new Error(`scan ${tree}: ${status} ${JSON.stringify(body)}`)
    for (const item of body.items as { key: string; value: string }[]) out.set(item.key, item.value)
    cursor = body.cursor
  } while (cursor !== undefined)
  return out
}

t.test('backup, unpack with GNU tar, serve; restore offline and over HTTP', async (t) => {
  const dataA = join(dir.path, 'a')
  const server = await startServe(['serve', '--data', dataA, '--port', '0', '--tokens', tokensFile, '--sync', 'none', '--log-level', 'warn'])
  t.teardown(() => { server.child.kill('SIGKILL') })
  const base = server.url
  t.equal((await json(`${base}/v1/trees/orders`, { method: 'PUT' })).status, 201)
  const expected = new Map<string, string>()
  for (let batch = 0; batch < 5; batch++) {
    const ops = Array.from({ length: 1000 }, (_, i) => ({ type: 'put', key: `order-${batch}-${i}`, value: `v${batch * 1000 + i}-${'x'.repeat(i % 64)}` }))
    for (const op of ops) expected.set(op.key, op.value)
    const res = await json(`${base}/v1/trees/orders/batch`, { method: 'POST', body: JSON.stringify({ ops }), headers: { 'content-type': 'application/json' } })
    t.equal(res.status, 200)
  }
  await json(`${base}/v1/trees/orders/flush`, { method: 'POST' })

  const tarFile = join(dir.path, 'orders.tar')
  const zstFile = join(dir.path, 'orders.tar.zst')
  const common = ['--url', base, '--token', TOKEN, '--tree', 'orders']
  const [plain, compressed] = await Promise.all([
    runCli(['backup', ...common, '--out', tarFile]),
    runCli(['backup', ...common, '--out', zstFile]),
  ])
  t.equal(plain.code, 0, `backup .tar: ${plain.stderr}`)
  t.equal(compressed.code, 0, `backup .tar.zst: ${compressed.stderr}`)
  t.equal(plain.stderr, '', 'quiet when stderr is not a TTY')
  t.same(readdirSync(dir.path).filter((n) => n.includes('.partial-')), [], 'no partial file left')
  t.equal(readFileSync(zstFile).readUInt32LE(0), 0xfd2fb528, '.tar.zst by its name: zstd magic')

  if (hasTar) {
    const listing = spawnSync('tar', ['-tf', tarFile]).stdout.toString().trim().split('\n')
    t.equal(listing[0], 'BACKUP.json', 'GNU tar lists BACKUP.json first')
    const backup = JSON.parse(spawnSync('tar', ['-xOf', tarFile, 'BACKUP.json']).stdout.toString())
    t.same(listing.slice(1), backup.files.map((f: { path: string }) => f.path), 'then every listed file')
    // sha256sum alone verifies an unpacked backup.
    const unpackedTree = join(dir.path, 'b', 'orders')
    mkdirSync(unpackedTree, { recursive: true })
    t.equal(spawnSync('tar', ['-xf', tarFile, '-C', unpackedTree]).status, 0, 'tar -x')
    const sums = backup.files.map((f: { path: string; sha256: string }) => `${f.sha256}  ${f.path}`).join('\n') + '\n'
    const check = spawnSync('sha256sum', ['-c', '-'], { cwd: unpackedTree, input: sums })
    t.equal(check.status, 0, `sha256sum -c: ${check.stdout}`)
    if (hasZstd) {
      const fromZst = join(dir.path, 'b', 'orders-zst')
      mkdirSync(fromZst)
      const unpacked = spawnSync('sh', ['-c', `zstd -dc '${zstFile}' | tar -xf - -C '${fromZst}'`])
      t.equal(unpacked.status, 0, `zstd -d | tar -x: ${unpacked.stderr}`)
    } else t.comment('zstd is not installed: the .tar.zst is checked by strata restore only')
    const serverB = await startServe(['serve', '--data', join(dir.path, 'b'), '--port', '0', '--tokens', tokensFile, '--sync', 'none', '--log-level', 'warn'])
    t.teardown(() => { serverB.child.kill('SIGKILL') })
    const stats = await json(`${serverB.url}/v1/trees/orders`)
    t.equal(stats.status, 200, 'strata serve opens the unpacked directory')
    t.equal(stats.body.seqno, backup.seqno, "at the backup's seqno")
    t.same(await scanAll(serverB.url, 'orders'), expected, 'with the same data')
    if (hasZstd) t.same(await scanAll(serverB.url, 'orders-zst'), expected, 'the .tar.zst too')
  } else t.comment('GNU tar is not installed: skipped the tar checks')

  const dataC = join(dir.path, 'c')
  const [restored, locked] = await Promise.all([
    runCli(['restore', '--file', zstFile, '--data', dataC, '--tree', 'restored']),
    runCli(['restore', '--file', tarFile, '--data', dataA, '--tree', 'restored']),
  ])
  t.equal(restored.code, 0, `strata restore: ${restored.stderr}`)
  t.match(restored.stderr, /restored tree 'restored' at seqno \d+/)
  t.equal(locked.code, 1, 'restore into the data directory of a running server fails')
  t.match(locked.stderr, /in use by another process/)
  const tree = await Tree.open(join(dataC, 'restored'), { createIfMissing: false, backgroundThreads: 0 })
  const got = new Map([...tree.iterator()].map(([k, v]) => [k.toString(), v.toString()]))
  const treeId = tree.treeId
  await tree.close()
  t.same(got, expected, 'strata restore: equal contents')
  const source = await json(`${base}/v1/trees/orders`)
  t.not(treeId, source.body.treeId, 'strata restore: a new treeId')

  // HTTP restore of the file, streamed from disk by undici.
  const form = new FormData()
  form.set('file', await openAsBlob(zstFile), 'orders.tar.zst')
  const res = await json(`${base}/v1/trees/orders-copy/restore`, { method: 'POST', body: form })
  t.equal(res.status, 201, JSON.stringify(res.body).slice(0, 200))
  t.not(res.body.treeId, source.body.treeId)
  t.same(await scanAll(base, 'orders-copy'), expected, 'HTTP restore: equal contents')
  t.notOk(existsSync(join(dataA, 'restored')), 'the refused offline restore left nothing')
})
