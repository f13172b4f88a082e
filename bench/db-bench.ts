/**
 * db-bench: Strata against its peers on db_bench's workloads, in one invocation.
 *
 *   npm run bench                       # 1,000,000 entries, every workload, 3 runs
 *   npm run bench -- --quick            # 50,000 entries, 1 run (CI smoke, < 60 s)
 *   node dist-bench/bench/db-bench.js --num 200000 --workloads fillrandom,readrandom \
 *     --engines strata,classic-level --runs 5 --value-size 100 --seed 7 --markdown
 *
 * Flags: --num N, --quick, --workloads a,b, --engines a,b, --runs N, --value-size N, --seed N,
 * --in-process (no child processes), --markdown (table for docs/benchmarks.md), --profile DIR
 * (V8 CPU profile of each run's timed part only, not of its data load: one .cpuprofile per run,
 * the format `node --cpu-prof` writes; summarize it as docs/benchmarks.md shows).
 *
 * How it runs: for each run, for each workload, each engine in turn (the engine order rotates
 * from run to run, so neither always goes first on a warm page cache). Each (workload, engine,
 * run) is a fresh child process on a fresh temporary directory, so peak RSS and heap state belong
 * to that one run; --in-process runs them all in this process instead (used by the smoke test
 * and for `node --cpu-prof`; peak RSS is then the process's peak so far).
 *
 * Adding a peer: an adapter in bench/engines/<name>.ts and one line in ENGINE_LOADERS.
 * Adding a workload: one entry in WORKLOADS (bench/workloads.ts).
 */
import { execFile } from 'node:child_process'
import { cpus, loadavg, totalmem } from 'node:os'
import { resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { EngineFactory } from './engines/types.js'
import { BASELINE_ENGINE, formatReport, summarize, type Summary } from './report.js'
import { WORKLOADS, runOnce, supports, type RunResult, type RunSpec } from './workloads.js'

/** Peers load lazily: an engine whose package is not installed fails only when selected. */
export const ENGINE_LOADERS: Readonly<Record<string, () => Promise<EngineFactory>>> = {
  strata: async () => (await import('./engines/strata.js')).strataEngine,
  'classic-level': async () => (await import('./engines/classic-level.js')).classicLevelEngine,
}

/** Entries in a full run (the issue's size) and in --quick (CI smoke, < 60 s in all). */
export const FULL_ENTRIES = 1_000_000
export const QUICK_ENTRIES = 50_000
/** Default seed: fixed, so two invocations compare the same key sequences. */
const DEFAULT_SEED = 301
/** A child that runs longer than this is stuck: 1M entries take well under a minute. */
const CHILD_TIMEOUT_MS = 30 * 60 * 1000
const RESULT_MARKER = 'DB-BENCH-RESULT '
/** A child still alive this long after its engine closed has a leaked handle: say so, exit. */
const CHILD_EXIT_GRACE_MS = 5000
const LEAK_MARKER = 'DB-BENCH-WARNING '

export interface BenchConfig {
  num: number
  runs: number
  valueSizeBytes: number
  seed: number
  workloads: string[]
  engines: string[]
  inProcess: boolean
  markdown: boolean
  /** CPU-profile the timed part of every run into this directory (see --profile). */
  profileDir: string | undefined
}

const USAGE = `usage: db-bench [--num N] [--quick] [--workloads ${WORKLOADS.map((w) => w.name).join(',')}]
  [--engines ${Object.keys(ENGINE_LOADERS).join(',')}] [--runs N] [--value-size N] [--seed N]
  [--in-process] [--markdown] [--profile DIR]`

function positiveInteger(flag: string, text: string | undefined, min: number): number {
  const n = Number(text)
  if (text === undefined || !Number.isSafeInteger(n) || n < min) throw new Error(`${flag} needs an integer >= ${min}\n${USAGE}`)
  return n
}

function requiredText(flag: string, text: string | undefined): string {
  if (text === undefined || text === '' || text.startsWith('--')) throw new Error(`${flag} needs a value\n${USAGE}`)
  return text
}

function names(flag: string, text: string | undefined, known: readonly string[]): string[] {
  const list = (text ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (list.length === 0) throw new Error(`${flag} needs a comma-separated list\n${USAGE}`)
  for (const name of list) if (!known.includes(name)) throw new Error(`${flag}: unknown '${name}' (known: ${known.join(', ')})`)
  return list
}

/** Parses the command line (without node and the script). Throws with the usage on a bad flag. */
export function parseFlags(argv: readonly string[]): BenchConfig {
  const workloadNames = WORKLOADS.map((w) => w.name)
  let num: number | undefined
  let runs: number | undefined
  let quick = false
  const config: BenchConfig = {
    num: FULL_ENTRIES, runs: 3, valueSizeBytes: 100, seed: DEFAULT_SEED,
    workloads: workloadNames, engines: Object.keys(ENGINE_LOADERS), inProcess: false, markdown: false,
    profileDir: undefined,
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    const [name, inline] = flag.includes('=') ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)] : [flag, undefined]
    const value = (): string | undefined => inline ?? argv[++i]
    if (name === '--num') num = positiveInteger(name, value(), 1)
    else if (name === '--runs') runs = positiveInteger(name, value(), 1)
    else if (name === '--value-size') config.valueSizeBytes = positiveInteger(name, value(), 0)
    else if (name === '--seed') config.seed = positiveInteger(name, value(), 0)
    else if (name === '--workloads') config.workloads = names(name, value(), workloadNames)
    else if (name === '--engines') config.engines = names(name, value(), Object.keys(ENGINE_LOADERS))
    else if (name === '--quick') quick = true
    else if (name === '--in-process') config.inProcess = true
    else if (name === '--markdown') config.markdown = true
    else if (name === '--profile') config.profileDir = requiredText(name, value())
    else throw new Error(`unknown flag ${flag}\n${USAGE}`)
  }
  config.num = num ?? (quick ? QUICK_ENTRIES : FULL_ENTRIES)
  config.runs = runs ?? (quick ? 1 : 3)
  return config
}

interface Job {
  engine: string
  workload: string
  spec: RunSpec
}

async function runJobInProcess(job: Job): Promise<RunResult> {
  const workload = WORKLOADS.find((w) => w.name === job.workload)
  const load = ENGINE_LOADERS[job.engine]
  if (workload === undefined || load === undefined) throw new Error(`unknown job ${job.workload}/${job.engine}`)
  return runOnce(await load(), workload, job.spec)
}

/** Runs one job in a fresh node process (same flags as this one) and parses its result line. */
function runJobInChild(job: Job): Promise<RunResult> {
  const script = fileURLToPath(import.meta.url)
  const args = [...process.execArgv, script, '--child', JSON.stringify(job)]
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: CHILD_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER))
      if (error !== null || line === undefined) {
        reject(new Error(`${job.workload} on ${job.engine} failed: ${error?.message ?? 'no result'}\n${stderr}`))
        return
      }
      for (const warning of stderr.split('\n').filter((l) => l.startsWith(LEAK_MARKER))) {
        process.stderr.write(`${warning.slice(LEAK_MARKER.length)}\n`)
      }
      resolve(JSON.parse(line.slice(RESULT_MARKER.length)) as RunResult)
    })
  })
}

/** In a child: if something keeps the process alive after the result, report it and exit. */
function exitWhenDone(job: Job): void {
  setTimeout(() => {
    const handles = (process as unknown as { _getActiveHandles?: () => object[] })._getActiveHandles?.() ?? []
    const names = handles.map((h) => h.constructor.name).join(', ')
    process.stderr.write(`${LEAK_MARKER}${job.workload} on ${job.engine}: process still alive ${CHILD_EXIT_GRACE_MS} ms after close (handles: ${names})\n`)
    process.exit(0)
  }, CHILD_EXIT_GRACE_MS).unref()
}

export interface BenchOutput {
  results: RunResult[]
  summaries: Summary[]
  /** The printed report, line by line. */
  lines: string[]
}

/** Runs the whole benchmark; `log` receives one progress line per finished run. */
export async function runBench(config: BenchConfig, log: (line: string) => void = () => {}): Promise<BenchOutput> {
  const loadAtStart = loadavg()[0]!
  const factories = new Map<string, EngineFactory>()
  for (const name of config.engines) factories.set(name, await ENGINE_LOADERS[name]!())
  const spec: RunSpec = { num: config.num, valueSizeBytes: config.valueSizeBytes, seed: config.seed }
  if (config.profileDir !== undefined) spec.profileDir = resolve(config.profileDir)
  const results: RunResult[] = []
  for (let run = 0; run < config.runs; run++) {
    const order = config.engines.map((_, i) => config.engines[(i + run) % config.engines.length]!)
    for (const workload of config.workloads) {
      for (const engine of order) {
        if (!supports(factories.get(engine)!, workload)) continue
        const job: Job = { engine, workload, spec }
        const result = config.inProcess ? await runJobInProcess(job) : await runJobInChild(job)
        results.push(result)
        log(`run ${run + 1}/${config.runs} ${workload} ${engine}: ${Math.round(result.opsPerSec)} ops/s`)
      }
    }
  }
  const summaries = summarize(results)
  return { results, summaries, lines: formatReport(header(config, factories, loadAtStart), summaries, config.markdown) }
}

function header(config: BenchConfig, factories: Map<string, EngineFactory>, loadAtStart: number): Parameters<typeof formatReport>[0] {
  const cpu = cpus()
  const load = `load average ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end`
  const busy = loadAtStart > cpu.length ? ' (more than one runnable task per CPU before the bench began: expect noise)' : ''
  const peers = config.engines.filter((e) => e !== BASELINE_ENGINE)
  return {
    title: `db-bench: ${config.engines.join(' vs ')} (ratio = ${BASELINE_ENGINE}/${peers.join(', ') || 'peer'} ops/s)`,
    lines: [
      `entries ${config.num.toLocaleString('en-US')}, keys 16 B, values ${config.valueSizeBytes} B, runs ${config.runs}, seed ${config.seed}, sync off`,
      `node ${process.version}, ${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${process.platform}`,
      `engines: ${[...factories.values()].map((f) => f.version).join(', ')}`,
      `${load}${busy}`,
      config.inProcess ? 'runs in-process (peak RSS is cumulative)' : 'each run in a fresh child process',
    ],
    apis: new Map([...factories.values()].map((f) => [f.name, `put ${f.apis.put}; batch ${f.apis.batch}; get ${f.apis.get}${f.apis.getSync ? `; sync get ${f.apis.getSync}` : ''}; scan ${f.apis.iterate}`])),
  }
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--child') {
    const job = JSON.parse(argv[1] ?? '') as Job
    const result = await runJobInProcess(job)
    process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`)
    exitWhenDone(job)
    return
  }
  const config = parseFlags(argv)
  const output = await runBench(config, (line) => process.stderr.write(`${line}\n`))
  process.stdout.write(`${output.lines.join('\n')}\n`)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  })
}
