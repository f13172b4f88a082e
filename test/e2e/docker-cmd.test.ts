/**
 * The Dockerfile's CMD and HEALTHCHECK, run here without Docker (no engine on CI): the CMD's
 * exec-form argv is parsed from the Dockerfile and run with its own flags, with only the
 * container paths and port mapped to the host (/data -> a temp dir, the tokens secret -> a temp
 * file, port 7070 -> a free port) and `node dist/cli/main.js` -> the CLI from source (the same
 * program; dist/ may not be built). It must start and answer /healthz; the HEALTHCHECK's own
 * command, run against it, must exit 0. The file's other promises are checked as text.
 */
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { CLI_SOURCE, REPO_ROOT, loaderArgs, startServe, tempDir } from '../helpers/cli-process.js'

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')
/** Instructions with their continuation lines joined. */
const instructions = dockerfile.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'))

/** The JSON argv of `CMD [...]`, or of `HEALTHCHECK [options] CMD [...]`. */
function execForm(instruction: 'CMD' | 'HEALTHCHECK'): string[] {
  const line = instructions.find((l) => l.startsWith(`${instruction} `))
  const at = line?.indexOf('CMD [') ?? -1
  if (line === undefined || at === -1) throw new Error(`no exec-form ${instruction} in the Dockerfile`)
  const argv: unknown = JSON.parse(line.slice(at + 'CMD '.length))
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) throw new Error(`${instruction} is not a JSON array of strings`)
  return argv
}

function flagValue(argv: string[], flag: string): string | undefined {
  const index = argv.indexOf(flag)
  return index === -1 ? undefined : argv[index + 1]
}

t.test('the Dockerfile keeps its promises', async (t) => {
  const froms = instructions.filter((l) => l.startsWith('FROM '))
  t.ok(froms.length >= 2, 'multi-stage')
  t.ok(instructions.some((l) => /^USER (?!root)\S+/.test(l)), 'runs as a non-root user')
  t.ok(instructions.includes('VOLUME /data'), 'VOLUME /data')
  t.ok(instructions.includes('EXPOSE 7070'), 'EXPOSE 7070')
  t.ok(instructions.some((l) => l.startsWith('HEALTHCHECK ') && l.includes('/healthz')), 'HEALTHCHECK on /healthz')
  t.ok(instructions.some((l) => l.startsWith('RUN npm ci')), 'npm ci in the build stage')
  t.ok(instructions.some((l) => l.includes('npm run build')), 'npm run build')
  const dockerignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n')
  for (const entry of ['node_modules', '.git', 'dist']) t.ok(dockerignore.includes(entry), `.dockerignore has ${entry}`)
  t.same(execForm('CMD').slice(0, 3), ['node', 'dist/cli/main.js', 'serve'])
})

t.test("the CMD starts the server and the HEALTHCHECK passes", async (t) => {
  const cmd = execForm('CMD')
  const dataDir = tempDir('strata-docker-')
  t.teardown(dataDir.remove)
  const tokensFile = join(dataDir.path, 'tokens.json')
  writeFileSync(tokensFile, JSON.stringify([{ token: 'docker-test-token-0123456789', role: 'admin' }]))
  t.equal(flagValue(cmd, '--data'), '/data', 'the CMD serves the VOLUME')
  t.equal(flagValue(cmd, '--host'), '0.0.0.0', 'the CMD listens on every interface (inside the container)')
  t.equal(flagValue(cmd, '--port'), '7070', 'the CMD listens on the EXPOSEd port')
  t.ok(flagValue(cmd, '--tokens')?.startsWith('/run/secrets/'), 'the CMD reads tokens from a secret')

  const hostPaths: Record<string, string> = { '/data': join(dataDir.path, 'data'), [flagValue(cmd, '--tokens')!]: tokensFile, '7070': '0' }
  const args = cmd.slice(2).map((arg) => hostPaths[arg] ?? arg)
  const server = await startServe([], { file: process.execPath, args: [...loaderArgs(), CLI_SOURCE, ...args, '--log-level', 'warn'] })
  t.teardown(() => { server.child.kill('SIGKILL') })
  const health = await fetch(`${server.url}/healthz`)
  t.equal(health.status, 200, '/healthz answers')

  const check = execForm('HEALTHCHECK')
  t.equal(check[0], 'node', 'the HEALTHCHECK uses node (no curl in the slim image)')
  const port = new URL(server.url).port
  const probe = check.slice(1).map((arg) => arg.replace('127.0.0.1:7070', `127.0.0.1:${port}`))
  const code = await new Promise<number | null>((resolve) => spawn(process.execPath, probe, { stdio: 'ignore' }).once('close', resolve))
  t.equal(code, 0, 'the HEALTHCHECK command exits 0 against the running server')

  server.child.kill('SIGTERM')
  t.equal((await server.exited).code, 0, 'SIGTERM (STOPSIGNAL) exits 0')
})
