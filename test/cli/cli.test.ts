/**
 * The `strata` command line: flag parsing and file validation in-process (serve-config.ts), and
 * the real CLI as a child process for --help, exit codes and the refusals (bad flags, bad tokens
 * file, a non-loopback host without tokens, the encryption key file, the coming commands).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { COMMANDS, EXIT_USAGE, mainHelp, serveHelp } from '../../src/cli/help.js'
import {
  BODY_LIMIT_BYTES_MAX, DEFAULT_BODY_LIMIT_BYTES, DEFAULT_MAX_RESTORE_BYTES, DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, SERVE_FLAGS, TOKEN_CHARS_MIN,
  UsageError, parseEncryptionKey, parseServeArgs, parseTokens, type ServeConfig,
} from '../../src/cli/serve-config.js'
import { runCli, selfSignedCert, startServe, tempDir } from '../helpers/cli-process.js'

const ADMIN_TOKEN = 'admin-token-0123456789'
const dir = tempDir('strata-cli-')
t.teardown(dir.remove)

function file(name: string, content: string | Buffer): string {
  const path = join(dir.path, name)
  writeFileSync(path, content)
  return path
}

/** Asserts that `run` throws a UsageError whose message matches `pattern`. */
function throwsUsage(t: Test, run: () => unknown, pattern: RegExp, name: string): void {
  try {
    run()
    t.fail(`${name}: no error`)
  } catch (error) {
    t.ok(error instanceof UsageError, `${name}: a UsageError`)
    t.match((error as Error).message, pattern, name)
  }
}

function usageError(t: Test, argv: string[], pattern: RegExp): void {
  throwsUsage(t, () => parseServeArgs(argv), pattern, `${argv.join(' ')} => ${pattern}`)
}

t.test('defaults: the quick start works with no flags', async (t) => {
  const config = parseServeArgs([]) as ServeConfig
  t.same(config, {
    dataDir: DEFAULT_DATA_DIR, host: DEFAULT_HOST, port: DEFAULT_PORT, tokens: undefined, sync: 'always',
    bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES, maxRestoreBytes: DEFAULT_MAX_RESTORE_BYTES, tls: undefined, logLevel: 'info',
  })
  t.equal(DEFAULT_DATA_DIR, './strata-data')
  t.equal(DEFAULT_PORT, 7070)
  t.equal(parseServeArgs(['--help']), 'help')
  t.equal(parseServeArgs(['-h']), 'help')
})

t.test('every flag is parsed', async (t) => {
  const tokens = file('tokens-ok.json', JSON.stringify([{ token: ADMIN_TOKEN, role: 'admin' }, { token: 'reader-token-0123456789', role: 'read' }]))
  const config = parseServeArgs([
    '--data', '/srv/strata', '--host', '0.0.0.0', '--port', '0', '--tokens', tokens, '--sync', 'none',
    '--body-limit', '1024', '--log-level', 'warn',
  ]) as ServeConfig
  t.equal(config.dataDir, '/srv/strata')
  t.equal(config.host, '0.0.0.0')
  t.equal(config.port, 0)
  t.same(config.tokens, [{ token: ADMIN_TOKEN, role: 'admin' }, { token: 'reader-token-0123456789', role: 'read' }])
  t.equal(config.sync, 'none')
  t.equal(config.bodyLimitBytes, 1024)
  t.equal(config.logLevel, 'warn')
  t.same(parseServeArgs(['--port=8080', '--body-limit=5']), { ...parseServeArgs([]) as ServeConfig, port: 8080, bodyLimitBytes: 5 })
})

const pem = selfSignedCert(dir.path)

t.test('--tls-cert and --tls-key', { skip: pem === undefined ? 'the openssl command is not available to make a test certificate' : false }, async (t) => {
  if (pem === undefined) return
  const config = parseServeArgs(['--tls-cert', pem.certPath, '--tls-key', pem.keyPath]) as ServeConfig
  t.match(config.tls?.cert.toString(), /BEGIN CERTIFICATE/)
  t.match(config.tls?.key.toString(), /PRIVATE KEY/)
  usageError(t, ['--tls-cert', pem.keyPath, '--tls-key', pem.keyPath], /--tls-cert is not a PEM certificate/)
  usageError(t, ['--tls-cert', pem.certPath, '--tls-key', pem.certPath], /--tls-key is not a PEM private key/)
})

t.test('bad flags are usage errors naming the flag', async (t) => {
  usageError(t, ['--nope'], /Unknown option '--nope'/)
  usageError(t, ['positional'], /Unexpected argument/)
  usageError(t, ['--port'], /--port/)
  usageError(t, ['--port', '70000'], /--port must be an integer from 0 to 65535/)
  usageError(t, ['--port', '-1'], /--port/)
  usageError(t, ['--port', '12ab'], /--port must be an integer/)
  usageError(t, ['--port', '1.5'], /--port must be an integer/)
  usageError(t, ['--body-limit', '0'], /--body-limit must be an integer from 1/)
  usageError(t, ['--body-limit', String(BODY_LIMIT_BYTES_MAX + 1)], /--body-limit/)
  usageError(t, ['--sync', 'sometimes'], /--sync must be 'always' or 'none'/)
  usageError(t, ['--log-level', 'loud'], /--log-level must be one of/)
  usageError(t, ['--data', ''], /--data needs a value/)
  usageError(t, ['--tls-cert', 'x.pem'], /--tls-cert and --tls-key go together/)
  usageError(t, ['--tls-key', 'x.pem'], /--tls-cert and --tls-key go together/)
  usageError(t, ['--tls-cert', join(dir.path, 'missing.pem'), '--tls-key', join(dir.path, 'missing.pem')], /--tls-cert: cannot read .*ENOENT/)
  const notPem = file('not.pem', 'hello')
  usageError(t, ['--tls-cert', notPem, '--tls-key', notPem], /not a PEM certificate/)
  usageError(t, ['--tokens', dir.path], /--tokens: .* is not a regular file/)
  usageError(t, ['--tokens', file('big.json', Buffer.alloc(1024 * 1024 + 1, 0x20))], /larger than/)
})

t.test('tokens file validation', async (t) => {
  const bad = (text: string, pattern: RegExp): void => throwsUsage(t, () => parseTokens(text), pattern, pattern.source)
  bad('{', /not valid JSON/)
  bad('{"token": "x"}', /JSON array/)
  bad('[]', /empty/)
  bad('[5]', /entry 0 is not an object/)
  bad(`[{"token": "${ADMIN_TOKEN}", "role": "admin", "extra": 1}]`, /unknown field\(s\) extra/)
  bad('[{"role": "admin"}]', /"token" must be a string/)
  bad('[{"token": "short", "role": "admin"}]', new RegExp(`${TOKEN_CHARS_MIN} to`))
  bad('[{"token": "has spaces in the token", "role": "admin"}]', /visible ASCII/)
  bad(`[{"token": "${ADMIN_TOKEN}", "role": "root"}]`, /"role" must be "read", "write" or "admin"/)
  bad(`[{"token": "${ADMIN_TOKEN}", "role": "admin"}, {"token": "${ADMIN_TOKEN}", "role": "read"}]`, /entry 1: the same token appears twice/)
  // A token is never echoed in an error message.
  try {
    parseTokens(`[{"token": "${ADMIN_TOKEN}", "role": "root"}]`)
  } catch (error) {
    t.notMatch((error as Error).message, ADMIN_TOKEN)
  }
  t.same(parseTokens(`[{"token": "${ADMIN_TOKEN}", "role": "write"}]`), [{ token: ADMIN_TOKEN, role: 'write' }])
})

t.test('encryption key file: validated, then refused as not implemented', async (t) => {
  const raw = Buffer.alloc(32, 7)
  t.same(parseEncryptionKey(raw), raw)
  t.same(parseEncryptionKey(Buffer.from('ab'.repeat(32) + '\n')), Buffer.alloc(32, 0xab))
  t.throws(() => parseEncryptionKey(Buffer.alloc(31)), /32 raw bytes or 64 hex characters, found 31 bytes/)
  t.throws(() => parseEncryptionKey(Buffer.from('zz'.repeat(32))), /64 hex characters/)
  usageError(t, ['--encryption-key-file', file('key.bin', raw)], /encryption at rest is not implemented yet/)
  usageError(t, ['--encryption-key-file', file('key-bad.bin', Buffer.alloc(5))], /found 5 bytes/)
})

t.test('help texts list every command and every flag', async (t) => {
  const help = serveHelp()
  for (const flag of SERVE_FLAGS) t.match(help, `--${flag.name}`, `serve --help lists --${flag.name}`)
  for (const flag of ['--data', '--host', '--port', '--tokens', '--encryption-key-file', '--sync', '--body-limit', '--tls-cert', '--tls-key']) {
    t.match(help, flag, `API.md / issue flag ${flag} is listed`)
  }
  const main = mainHelp()
  for (const command of COMMANDS) t.match(main, command.name)
  t.notMatch(main, /follow .*coming/, 'follow is implemented')
  t.notMatch(main, /backup .*coming/, 'backup is implemented')
  t.notMatch(main, /restore .*coming/, 'restore is implemented')
})

t.test('the real CLI', async (t) => {
  // The runs are independent: run them side by side (each child loads the TypeScript sources).
  const [help, serveHelpRun, badFlag, badPort, unknown, follow, backup, restore, badTokens, key] = await Promise.all([
    runCli(['--help']),
    runCli(['serve', '--help']),
    runCli(['serve', '--bogus']),
    runCli(['serve', '--port', 'abc']),
    runCli(['frobnicate']),
    runCli(['follow', '--anything']),
    runCli(['backup', '--anything']),
    runCli(['restore', '--anything']),
    runCli(['serve', '--data', join(dir.path, 'data-a'), '--tokens', file('tokens-bad.json', '[{"token": "x", "role": "admin"}]')]),
    runCli(['serve', '--data', join(dir.path, 'data-b'), '--encryption-key-file', file('key2.bin', 'cd'.repeat(32))]),
  ])
  t.equal(help.code, 0, '--help exits 0')
  for (const flag of SERVE_FLAGS) t.match(help.stdout, `--${flag.name}`)
  for (const command of COMMANDS) t.match(help.stdout, command.name)

  t.equal(serveHelpRun.code, 0)
  t.equal(serveHelpRun.stdout.trim(), serveHelp())

  t.equal(badFlag.code, EXIT_USAGE, 'an unknown flag exits 2')
  t.match(badFlag.stderr, /Unknown option '--bogus'/)

  t.equal(badPort.code, EXIT_USAGE)
  t.match(badPort.stderr, /--port must be an integer/)

  t.equal(unknown.code, EXIT_USAGE)
  t.match(unknown.stderr, /unknown command 'frobnicate'/)

  for (const [command, run] of [['follow', follow], ['backup', backup], ['restore', restore]] as const) {
    t.equal(run.code, EXIT_USAGE, `${command} with an unknown flag exits 2`)
    t.match(run.stderr, /Unknown option '--anything'/)
  }

  t.equal(badTokens.code, EXIT_USAGE, 'a bad tokens file exits 2')
  t.match(badTokens.stderr, /--tokens: entry 0: "token" must be/)

  t.equal(key.code, EXIT_USAGE, 'a valid encryption key file is refused with 2')
  t.match(key.stderr, /encryption at rest is not implemented yet/)
})

t.test('a non-loopback host needs tokens; a data directory serves one process', async (t) => {
  const data = join(dir.path, 'data-c')
  const tokens = file('tokens-c.json', JSON.stringify([{ token: ADMIN_TOKEN, role: 'admin' }]))
  const [refused, served] = await Promise.all([
    runCli(['serve', '--data', join(dir.path, 'data-refused'), '--host', '0.0.0.0', '--port', '0']),
    startServe(['serve', '--data', data, '--host', '0.0.0.0', '--port', '0', '--tokens', tokens, '--log-level', 'warn']),
  ])
  t.teardown(() => { served.child.kill('SIGKILL') })
  t.equal(refused.code, EXIT_USAGE, 'no tokens on 0.0.0.0: refused with exit code 2')
  t.match(refused.stderr, /refusing to listen on 0\.0\.0\.0 without tokens/)

  t.match(served.url, /^http:\/\//, 'with tokens it listens')
  t.equal((await fetch(`${served.url}/healthz`)).status, 200)
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
  t.equal((await fetch(`${served.url}/v1/trees/locked`, { method: 'PUT' })).status, 401, 'the tokens are enforced')
  t.equal((await fetch(`${served.url}/v1/trees/locked`, { method: 'PUT', headers: auth })).status, 201)

  const second = await runCli(['serve', '--data', data, '--port', '0', '--log-level', 'warn'])
  t.equal(second.code, 1, 'a second server on the same data directory exits 1')
  t.match(second.stderr, /in use by another process/)

  served.child.kill('SIGTERM')
  const exit = await served.exited
  t.equal(exit.code, 0, 'SIGTERM exits 0')
  t.match(exit.stderr, /stopped; every tree closed/)
})
