// `strata follow` flags: parsed strictly, every mistake a one-line usage error (exit 2), the
// help lists every flag of API.md's command line.
import t from 'tap'
import { FOLLOW_FLAGS, followHelp, mbpsFlag, parseFollowArgs } from '../../src/cli/follow-command.js'
import { runCli } from '../helpers/cli-process.js'

const base = ['--leader', 'http://127.0.0.1:7070', '--token', 'admin-token-0123456789', '--data', '/tmp/x']

t.test('parse', async (t) => {
  const c = parseFollowArgs([...base, '--trees', 'a,b', '--wal', '--max-transfer-mbps', '12.5', '--port', '0'], {})
  t.match(c, { leader: 'http://127.0.0.1:7070', trees: ['a', 'b'], wal: true, maxTransferMbps: 12.5, port: 0, host: '127.0.0.1' })
  t.equal((parseFollowArgs(base, {}) as { port: number }).port, 7071, 'default port 7071')
  t.equal(parseFollowArgs(['--help'], {}), 'help')
  t.equal((parseFollowArgs(['--leader', 'http://h:1', '--data', 'd'], { STRATA_LEADER_TOKEN: 'from-env-token-xyz' }) as { token: string }).token, 'from-env-token-xyz')
  t.throws(() => parseFollowArgs(['--token', 'x'], {}), /--leader URL is required/)
  t.throws(() => parseFollowArgs(['--leader', 'ftp://x'], {}), /http:\/\/ or https:\/\//)
  t.throws(() => parseFollowArgs(['--leader', 'http://x'], {}), /--token/)
  t.throws(() => parseFollowArgs([...base, '--trees', 'a,../b'], {}), /not a valid tree name/)
  t.throws(() => parseFollowArgs([...base, '--port', '70000'], {}), /--port/)
  t.throws(() => parseFollowArgs([...base, '--bogus'], {}), /Unknown option '--bogus'/)
  t.throws(() => mbpsFlag('0'), /--max-transfer-mbps/)
  t.throws(() => mbpsFlag('fast'), /--max-transfer-mbps/)
})

t.test('help lists every flag', async (t) => {
  const help = followHelp()
  for (const flag of FOLLOW_FLAGS) t.match(help, `--${flag.name}`)
  for (const flag of ['--leader', '--token', '--data', '--host', '--port', '--tokens', '--trees', '--wal', '--max-transfer-mbps']) t.match(help, flag)
  const run = await runCli(['follow', '--help'])
  t.equal(run.code, 0)
  t.equal(run.stdout.trim(), help)
  const bad = await runCli(['follow', '--leader', 'http://127.0.0.1:1', '--token', 'x'.repeat(20), '--host', '0.0.0.0', '--port', '0'])
  t.equal(bad.code, 2, 'a non-loopback host without --tokens is refused')
  t.match(bad.stderr, /refusing to listen/)
})
