/**
 * Runs the REAL `strata` command line (src/cli/main.ts) as a child process, the way the tests of
 * test/cli and test/e2e need it: node with the TypeScript loader tap gave this process (the
 * `--import` flags of process.execArgv), so the child runs the sources, not a stale dist/.
 *
 * startServe() waits for the CLI's `strata: listening on <url>` line on stderr and returns the
 * URL; ask for `--port 0` so the kernel picks a free port.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const CLI_SOURCE = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
/** A CLI that has not printed its listening line by then is stuck (loading the TS sources takes ~4 s of CPU; CI machines are shared). */
export const START_TIMEOUT_MS = 120_000

/** The `--import` loader flags of this process (tap's TypeScript loader), for a child node. */
export function loaderArgs(): string[] {
  const args: string[] = []
  const argv = process.execArgv
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg.startsWith('--import=')) args.push(arg)
    else if (arg === '--import' && i + 1 < argv.length) args.push(arg, argv[++i]!)
  }
  return args.length > 0 ? args : ['--import=@tapjs/typescript/import']
}

/** The argv (after node itself) that runs the CLI from source. */
export function cliArgs(args: readonly string[]): string[] {
  return [...loaderArgs(), CLI_SOURCE, ...args]
}

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs the CLI to completion (for --help and the refusals). */
export async function runCli(args: readonly string[], timeoutMs = START_TIMEOUT_MS): Promise<CliResult> {
  const child = spawn(process.execPath, cliArgs(args), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  try {
    return await collect(child)
  } finally {
    clearTimeout(timer)
  }
}

async function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

export interface ServeProcess {
  child: ChildProcess
  url: string
  /** Everything written so far. */
  output(): { stdout: string; stderr: string }
  /** Resolves with the exit once the process is gone. */
  exited: Promise<CliResult>
}

/** Starts a command (default: this CLI) that prints `listening on <url>`; resolves once it does. */
export async function startServe(args: readonly string[], command?: { file: string; args: string[]; cwd?: string }): Promise<ServeProcess> {
  const file = command?.file ?? process.execPath
  const child = spawn(file, command?.args ?? cliArgs(args), { cwd: command?.cwd ?? REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = collect(child)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8') })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no listening line in ${START_TIMEOUT_MS} ms:\n${stderr}`)) }, START_TIMEOUT_MS)
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8')
      const match = /listening on (\S+)/.exec(stderr)
      if (match !== null) { clearTimeout(timer); resolve(match[1]!) }
    })
    void exited.then((result) => { clearTimeout(timer); reject(new Error(`exited (${result.code}) before listening:\n${stderr}`)) })
  })
  return { child, url, output: () => ({ stdout, stderr }), exited }
}

/** A fresh temporary directory, removed at teardown by the caller's `t.teardown(remove)`. */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** A self-signed certificate for 127.0.0.1 made by the openssl command, or undefined without it. */
export function selfSignedCert(dir: string): { certPath: string; keyPath: string } | undefined {
  const certPath = join(dir, 'cert.pem')
  const keyPath = join(dir, 'key.pem')
  const result = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyPath, '-out', certPath,
  ], { stdio: 'ignore' })
  return result.status === 0 ? { certPath, keyPath } : undefined
}
