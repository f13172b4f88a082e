/**
 * kill -9 on the real file system: a child process (test/fixtures/crash-writer.ts) opens a
 * tree on NodeVfs with sync 'always' and runs concurrent writers, printing one line per
 * acknowledged write. The parent SIGKILLs it after a random 50-400 ms, reopens the tree and checks:
 * - every acknowledged put and batch is there with its exact value;
 * - no batch is half-applied (all of its keys and its marker, or none of them);
 * - while the child holds the tree, an open in the parent is LOCKED; after the kill the stale
 *   lock is taken over.
 * Cycles repeat on the SAME directory, each continuing the key space, and every cycle checks
 * the acknowledged writes of all earlier cycles again.
 *
 * How the child runs TypeScript: spawning `node` with this process's execArgv (tap's ts-node
 * loader) works, but ts-node compiles the whole engine again in every child (~3.5 s of CPU
 * each), too slow for 8 cycles. So the test transpiles the engine and the fixture ONCE with the
 * TypeScript compiler (transpileModule: types erased, nothing else changes, as ts-node's
 * transpile-only mode does) into a temp dir and spawns plain `node` on the result.
 * STRATA_KILL9_LOADER=execargv switches back to the loader (slow, for checking the two agree).
 *
 *   STRATA_SEED=<n> replays the kill delays; STRATA_TEST_SCALE=<k> multiplies the cycles.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

import t, { type Test } from 'tap'
import ts from 'typescript'

import { Tree, nodeVfs } from '../../../src/engine/index.js'
import { caught, crashWriterBatchKeys, crashWriterValue, describeError } from '../../helpers/crash-tools.js'
import { Prng, testScale, testSeed } from '../../helpers/prng.js'

const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const FIXTURE = join(REPO, 'test/fixtures/crash-writer.ts')
/** What the child imports, transpiled for it: the engine, the fixture and its helpers. */
const CHILD_SOURCES = ['src/engine', 'test/fixtures/crash-writer.ts', 'test/helpers/crash-tools.ts', 'test/helpers/prng.ts']
/** Cycles at CI size. */
const CYCLES_AT_CI_SIZE = 8
const WRITERS = 4
const KILL_DELAY_MS_MIN = 50
const KILL_DELAY_MS_MAX = 400
/** The parent reads and checks; flush and compaction on its main thread spare each reopen a
 *  worker that would load the engine's TypeScript through the loader again (seconds). */
const PARENT_OPTIONS = { vfs: nodeVfs, backgroundThreads: 0 }
/** The child must open the tree within this (it loads TypeScript from source). */
const READY_TIMEOUT_MS = 30_000

interface Acks {
  puts: string[]
  batches: string[]
  /** Flushes and compactions the child finished. */
  maintenance: number
}

interface Child {
  process: ChildProcess
  acks: Acks
  ready: Promise<void>
  closed: Promise<number | null>
  stderr: () => string
}

function typeScriptFiles(path: string): string[] {
  if (path.endsWith('.ts')) return [path]
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() || entry.name.endsWith('.ts') ? typeScriptFiles(join(path, entry.name)) : [],
  )
}

/** Transpiles CHILD_SOURCES into `outDir` (same relative layout, .js); returns the fixture. */
function transpileChild(outDir: string): string {
  for (const file of CHILD_SOURCES.flatMap((source) => typeScriptFiles(join(REPO, source)))) {
    const output = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    })
    const target = join(outDir, relative(REPO, file)).replace(/\.ts$/, '.js')
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, output.outputText)
  }
  writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: 'module' }))
  symlinkSync(join(REPO, 'node_modules'), join(outDir, 'node_modules'), 'dir')
  return join(outDir, 'test/fixtures/crash-writer.js')
}

/** The command line that runs the crash writer. */
function childCommand(workDir: string): string[] {
  if (process.env['STRATA_KILL9_LOADER'] === 'execargv') return [...process.execArgv, FIXTURE]
  return [transpileChild(join(workDir, 'child'))]
}

function startChild(command: readonly string[], dir: string, cycle: number): Child {
  const child = spawn(process.execPath, [...command, dir, String(cycle), String(WRITERS)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const acks: Acks = { puts: [], batches: [], maintenance: 0 }
  let stderr = ''
  let pending = ''
  let onReady: () => void = () => undefined
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  child.stdout?.setEncoding('utf8')
  child.stdout?.on('data', (chunk: string) => {
    pending += chunk
    const lines = pending.split('\n')
    pending = lines.pop() as string // a partial last line was not acknowledged in full
    for (const line of lines) {
      const [kind, name] = line.split(' ')
      if (kind === 'ready') onReady()
      else if (kind === 'p' && name !== undefined) acks.puts.push(name)
      else if (kind === 'b' && name !== undefined) acks.batches.push(name)
      else if (kind === 'f' || kind === 'c') acks.maintenance++
    }
  })
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => (stderr += chunk))
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return { process: child, acks, ready, closed, stderr: () => stderr }
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Checks every acknowledged write of `acks` and that no batch of `cycle` is half-applied. */
function checkTree(t: Test, tree: Tree, acks: Acks, cycle: number): void {
  let missing = 0
  for (const key of acks.puts) {
    if (tree.get(key)?.toString() !== crashWriterValue(key) && missing++ < 5) t.fail(`acknowledged put ${key} lost or wrong`)
  }
  for (const id of acks.batches) {
    for (const key of crashWriterBatchKeys(id)) {
      if (tree.get(key)?.toString() !== crashWriterValue(key) && missing++ < 5) t.fail(`acknowledged batch ${id}: ${key} lost or wrong`)
    }
  }
  t.equal(missing, 0, `all ${acks.puts.length} puts and ${acks.batches.length} batches acknowledged so far are present`)
  const seen = new Map<string, number>()
  for (const [keyBytes, value] of tree.iterator({ prefix: `c${cycle}/` })) {
    const key = keyBytes.toString()
    if (value.toString() !== crashWriterValue(key)) t.fail(`${key} has a wrong value`)
    const batch = /^(.*)\/(b\d+|m)$/.exec(key)
    if (batch) seen.set(batch[1] as string, (seen.get(batch[1] as string) ?? 0) + 1)
  }
  const half = [...seen].filter(([, n]) => n !== crashWriterBatchKeys('x').length)
  t.same(half, [], `cycle ${cycle}: ${seen.size} batches on disk, none half-applied`)
}

t.test('SIGKILL during writes, flushes and compactions loses no acknowledged write', async (t) => {
  const seed = testSeed()
  const cycles = Math.round(CYCLES_AT_CI_SIZE * testScale())
  t.comment(`seed ${seed} (STRATA_SEED=${seed} replays the kill delays), ${cycles} cycles`)
  const prng = new Prng(seed)
  const workDir = mkdtempSync(join(tmpdir(), 'strata-kill9-'))
  t.teardown(() => rmSync(workDir, { recursive: true, force: true }))
  let startedMs = performance.now()
  const command = childCommand(workDir)
  t.comment(`child prepared in ${Math.round(performance.now() - startedMs)} ms`)
  const dir = join(workDir, 'tree')
  const allAcks: Acks = { puts: [], batches: [], maintenance: 0 }
  for (let cycle = 0; cycle < cycles; cycle++) {
    startedMs = performance.now()
    const child = startChild(command, dir, cycle)
    try {
      await within(Promise.race([child.ready, child.closed.then(() => Promise.reject(new Error('child exited')))]), READY_TIMEOUT_MS, 'child ready')
    } catch (error) {
      child.process.kill('SIGKILL')
      t.fail(`cycle ${cycle}: the child did not start: ${describeError(error)}\n${child.stderr()}`)
      return
    }
    const readyMs = performance.now() - startedMs
    const locked = await caught(async () => (await Tree.open(dir, PARENT_OPTIONS)).close())
    t.match(locked, { code: 'LOCKED' }, `cycle ${cycle}: the parent's open is LOCKED while the child holds the tree`)
    await sleep(prng.range(KILL_DELAY_MS_MIN, KILL_DELAY_MS_MAX))
    child.process.kill('SIGKILL')
    const code = await child.closed
    const killedMs = performance.now() - startedMs
    t.equal(code, null, `cycle ${cycle}: the child was killed (it did not exit on its own): ${child.stderr().slice(0, 500)}`)
    allAcks.puts.push(...child.acks.puts)
    allAcks.batches.push(...child.acks.batches)
    t.ok(child.acks.puts.length + child.acks.batches.length > 0, `cycle ${cycle}: ${child.acks.puts.length} puts, ${child.acks.batches.length} batches acknowledged before the kill`)
    const tree = await Tree.open(dir, PARENT_OPTIONS).catch((error: unknown) => error)
    if (!(tree instanceof Tree)) {
      t.fail(`cycle ${cycle}: reopen after the kill failed (stale lock not taken over?): ${describeError(tree)}`)
      return
    }
    const reopenedMs = performance.now() - startedMs
    try {
      checkTree(t, tree, allAcks, cycle)
    } finally {
      await tree.close()
    }
    const times = [readyMs, killedMs, reopenedMs, performance.now() - startedMs].map(Math.round)
    t.comment(`cycle ${cycle}: ${child.acks.maintenance} flushes/compactions done; ms: ready ${times[0]}, killed ${times[1]}, reopened ${times[2]}, checked ${times[3]}`)
  }
})
