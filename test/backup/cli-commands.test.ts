// `strata backup` and `strata restore` in-process (src/cli/backup-command.ts,
// restore-command.ts): flag parsing, the server's error answers, a server that sends a damaged
// archive or a wrong X-Seqno (the backup verifies what it wrote and leaves no file), exit codes,
// and the offline restore's refusals. The real processes run in test/e2e/backup-cli.test.ts.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import Fastify from 'fastify'
import t, { type Test } from 'tap'

import { backup, parseBackupArgs, runBackup, type BackupConfig } from '../../src/cli/backup-command.js'
import { parseRestoreArgs, restore, runRestore } from '../../src/cli/restore-command.js'
import { UsageError } from '../../src/cli/serve-config.js'
import { buildServer } from '../../src/http/app.js'
import { flip, makeSourceTree, type SourceTree } from './archive-corpus.js'

const ADMIN = 'admin-token-for-cli-tests-0001'
const READER = 'read-token-for-cli-tests-00001'

let src: SourceTree
t.before(async () => {
  src = await makeSourceTree(300)
})
t.teardown(() => src.remove())

function workspace(t: Test): string {
  const root = mkdtempSync(join(tmpdir(), 'strata-cli-cmd-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  return root
}

/** Silences stderr writes of the command under test. */
function quiet(t: Test): void {
  const write = process.stderr.write
  process.stderr.write = (() => true) as typeof process.stderr.write
  t.teardown(() => { process.stderr.write = write })
}

t.test('backup flags', async (t) => {
  const base = ['--url', 'http://127.0.0.1:1', '--token', 'x', '--tree', 't']
  t.match(parseBackupArgs([...base, '--out', 'a.tar']), { compression: 'none', force: false })
  t.match(parseBackupArgs([...base, '--out', 'a.tar.zst']), { compression: 'zstd' })
  t.match(parseBackupArgs(['--url', 'http://h', '--tree', 't', '--out', 'a.tar'], { STRATA_TOKEN: 'from-env' }), { token: 'from-env' })
  t.equal(parseBackupArgs(['--help']), 'help')
  for (const [args, message] of [
    [['--tree', 't', '--out', 'a'], /--url is required/],
    [['--url', 'ftp://h', '--token', 'x', '--tree', 't', '--out', 'a'], /http:\/\/ or https:\/\//],
    [['--url', 'http://h', '--tree', 't', '--out', 'a'], /--token/],
    [['--url', 'http://h', '--token', 'x', '--tree', '../t', '--out', 'a'], /not a valid tree name/],
    [['--url', 'http://h', '--token', 'x', '--tree', 't'], /--out is required/],
    [[...base, '--out', 'a', '--bogus'], /Unknown option/],
  ] as const) {
    t.throws(() => parseBackupArgs(args, {}), new UsageError('x').constructor, String(args))
    t.throws(() => parseBackupArgs(args, {}), message)
  }
  t.throws(() => parseRestoreArgs(['--file', 'f', '--data', 'd', '--tree', 't', '--max-bytes', '-1']), /--max-bytes/)
  t.match(parseRestoreArgs(['--file', 'f', '--data', 'd', '--tree', 't']), { maxBytes: 1024 ** 4 })
})

t.test('backup against a server: success, error answers, nothing left on failure', async (t) => {
  const root = workspace(t)
  const app = await buildServer({ dataDir: join(root, 'data'), sync: 'none', tokens: [{ token: ADMIN, role: 'admin' }, { token: READER, role: 'read' }] })
  t.teardown(() => app.close())
  const url = new URL(await app.listen({ port: 0, host: '127.0.0.1' }))
  await app.inject({ method: 'PUT', url: '/v1/trees/t', headers: { authorization: `Bearer ${ADMIN}` } })
  await app.catalog.get('t')!.put('k', 'v')
  const config = (over: Partial<BackupConfig>): BackupConfig => ({ url, token: ADMIN, tree: 't', out: join(root, 'out.tar'), force: false, compression: 'none', ...over })
  const ok = await backup(config({}))
  t.equal(ok.seqno, 1)
  t.ok(existsSync(join(root, 'out.tar')))
  const zst = await backup(config({ out: join(root, 'out.tar.zst'), compression: 'zstd' }))
  t.equal(zst.seqno, 1)
  await t.rejects(backup(config({ token: 'nope-nope-nope-nope', out: join(root, 'a.tar') })), /401 UNAUTHORIZED/)
  await t.rejects(backup(config({ token: READER, out: join(root, 'b.tar') })), /403 FORBIDDEN/)
  await t.rejects(backup(config({ tree: 'missing', out: join(root, 'c.tar') })), /404 TREE_NOT_FOUND/)
  await t.rejects(backup(config({ url: new URL('http://127.0.0.1:1'), out: join(root, 'd.tar') })), /ECONNREFUSED|connect/)
  t.same(readdirSync(root).sort(), ['data', 'out.tar', 'out.tar.zst'], 'failed backups leave no file, partial or not')
  quiet(t)
  t.equal(await runBackup(['--url', url.href, '--token', ADMIN, '--tree', 't', '--out', join(root, 'out.tar')]), 2, 'an existing --out: exit 2')
  t.equal(await runBackup(['--url', url.href, '--token', ADMIN, '--tree', 't', '--out', join(root, 'out.tar'), '--force']), 0, '--force replaces it')
  t.equal(await runBackup(['--url', url.href, '--token', READER, '--tree', 't', '--out', join(root, 'e.tar')]), 1, 'a refused backup: exit 1')
})

t.test('backup verifies what it wrote: a damaged archive or a wrong X-Seqno leaves no file', async (t) => {
  const root = workspace(t)
  const fake = Fastify()
  let answer: { body: Buffer; seqno: number } = { body: src.archive, seqno: src.manifest.seqno }
  fake.get('/v1/trees/t/checkpoint', async (_request, reply) => {
    reply.header('content-type', 'application/x-tar').header('x-seqno', String(answer.seqno))
    return reply.send(answer.body)
  })
  t.teardown(() => fake.close())
  const url = new URL(await fake.listen({ port: 0, host: '127.0.0.1' }))
  const config: BackupConfig = { url, token: 'x', tree: 't', out: join(root, 'b.tar'), force: false, compression: 'none' }
  t.equal((await backup(config)).seqno, src.manifest.seqno, 'a good archive')
  rmSync(config.out)
  answer = { body: flip(src.archive, src.archive.length - 2048), seqno: src.manifest.seqno }
  await t.rejects(backup(config), /does not verify/)
  answer = { body: src.archive.subarray(0, src.archive.length - 1024), seqno: src.manifest.seqno }
  await t.rejects(backup(config), /does not verify: .*end-of-archive/)
  answer = { body: src.archive, seqno: src.manifest.seqno + 1 }
  await t.rejects(backup(config), /X-Seqno .* disagree/)
  answer = { body: src.compressed, seqno: src.manifest.seqno }
  await t.rejects(backup(config), /another compression/)
  t.same(readdirSync(root), [], 'nothing left behind')
})

t.test('restore offline: ok, exists, invalid archive, exit codes', async (t) => {
  const root = workspace(t)
  const good = join(root, 'good.tar')
  const bad = join(root, 'bad.tar')
  writeFileSync(good, src.archive)
  writeFileSync(bad, flip(src.archive, 700))
  const dataDir = join(root, 'data')
  const result = await restore({ file: good, dataDir, tree: 'r', maxBytes: 1 << 30 })
  t.equal(result.manifest.seqno, src.manifest.seqno)
  await t.rejects(restore({ file: good, dataDir, tree: 'r', maxBytes: 1 << 30 }), { code: 'EXISTS' })
  await t.rejects(restore({ file: bad, dataDir, tree: 'b', maxBytes: 1 << 30 }), { code: 'INVALID_ARCHIVE' })
  t.same(readdirSync(dataDir).filter((n) => n !== '.lock').sort(), ['r'], 'only the good restore is there')
  quiet(t)
  t.equal(await runRestore(['--file', bad, '--data', dataDir, '--tree', 'b']), 1, 'invalid archive: exit 1')
  t.equal(await runRestore(['--file', join(root, 'missing.tar'), '--data', dataDir, '--tree', 'b']), 2, 'missing file: exit 2')
  t.equal(await runRestore(['--file', good, '--data', dataDir, '--tree', 'r2']), 0, 'exit 0')
})
