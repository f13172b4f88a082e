/**
 * db-bench: Strata against its peers on db_bench's workloads, in one invocation.
 *
 *   npm run bench                       # 1,000,000 entries, every workload and engine, 3 runs
 *   npm run bench -- --quick            # QUICK_ENTRIES entries, 1 run, in-process (CI smoke, < 60 s)
 *   node dist-bench/bench/db-bench.js --num 200000 --workloads fillrandom,readrandom \
 *     --engines strata,classic-level --runs 5 --value-size 100 --seed 7 --markdown
 *
 * Flags: --num N, --ops N (operations of the read and YCSB workloads; default num), --quick,
 * --workloads a,b, --engines a,b, --runs N, --value-size N, --seed N, --in-process (no child
 * processes; --quick implies it: 76 node starts cost ~20 s of CPU on their own, more than the
 * quick workloads), --children (child processes even with --quick), --markdown (table for docs/benchmarks.md), --profile DIR (V8 CPU profile of each
 * run's timed part only, not of its data load: one .cpuprofile per run, the format
 * `node --cpu-prof` writes; summarize it as docs/benchmarks.md shows).
 *
 * How it runs: for each run, for each workload, each engine in turn (the engine order rotates
 * from run to run, so no engine always goes first on a warm page cache). Each (workload, engine,
 * run) is a fresh child process on a fresh temporary directory, so peak RSS and heap state belong
 * to that one run; --in-process runs them all in this process instead (used by the smoke test
 * and for `node --cpu-prof`; peak RSS is then the process's peak so far). Read workloads run on
 * a copy of a template each engine loads once per run, in a child of its own (run-once.ts).
 *
 * Adding a peer: an adapter in bench/engines/<name>.ts and one line in ENGINE_LOADERS.
 * Adding a workload: one entry in WORKLOADS (bench/workloads.ts).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { EngineFactory } from './engines/types.js'
import { BASELINE_ENGINE, formatReport, summarize, type Summary } from './report.js'
import { loadTemplate, runOnce, type RunResult } from './run-once.js'
import { WORKLOADS, supports, type RunSpec } from './workloads.js'

/** Peers load lazily: an engine whose package is not installed fails only when selected. */
export const ENGINE_LOADERS: Readonly<Record<string, () => Promise<EngineFactory>>> = {
  strata: async () => (await import('./engines/strata.js')).strataEngine,
  'classic-level': async () => (await import('./engines/classic-level.js')).classicLevelEngine,
  rocksdb: async () => (await import('./engines/rocksdb.js')).rocksdbEngine,
  lmdb: async () => (await import('./engines/lmdb.js')).lmdbEngine,
}

/** Entries in a full run (the size) and in --quick (CI smoke, < 60 s in all). */
export const FULL_ENTRIES = 1_000_000
export const QUICK_ENTRIES = 5_000
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
  /** Operations of the read and YCSB workloads. */
  ops: number
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

const USAGE = `usage: db-bench [--num N] [--ops N] [--quick] [--workloads ${WORKLOADS.map((w) => w.name).join(',')}]
  [--engines ${Object.keys(ENGINE_LOADERS).join(',')}] [--runs N] [--value-size N] [--seed N]
  [--in-process | --children] [--markdown] [--profile DIR]`

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
  let ops: number | undefined
  let runs: number | undefined
  let quick = false
  let inProcess: boolean | undefined
  const config: BenchConfig = {
    num: FULL_ENTRIES, ops: FULL_ENTRIES, runs: 3, valueSizeBytes: 100, seed: DEFAULT_SEED,
    workloads: workloadNames, engines: Object.keys(ENGINE_LOADERS), inProcess: false, markdown: false,
    profileDir: undefined,
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    const [name, inline] = flag.includes('=') ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)] : [flag, undefined]
    const value = (): string | undefined => inline ?? argv[++i]
    if (name === '--num') num = positiveInteger(name, value(), 2)
    else if (name === '--ops') ops = positiveInteger(name, value(), 1)
    else if (name === '--runs') runs = positiveInteger(name, value(), 1)
    else if (name === '--value-size') config.valueSizeBytes = positiveInteger(name, value(), 0)
    else if (name === '--seed') config.seed = positiveInteger(name, value(), 0)
    else if (name === '--workloads') config.workloads = names(name, value(), workloadNames)
    else if (name === '--engines') config.engines = names(name, value(), Object.keys(ENGINE_LOADERS))
    else if (name === '--quick') quick = true
    else if (name === '--in-process') inProcess = true
    else if (name === '--children') inProcess = false
    else if (name === '--markdown') config.markdown = true
    else if (name === '--profile') config.profileDir = requiredText(name, value())
    else throw new Error(`unknown flag ${flag}\n${USAGE}`)
  }
  config.num = num ?? (quick ? QUICK_ENTRIES : FULL_ENTRIES)
  config.ops = ops ?? config.num
  config.runs = runs ?? (quick ? 1 : 3)
  config.inProcess = inProcess ?? quick
  return config
}

/** One unit of work for a child process (or this process with --in-process). */
type Job =
  | { kind: 'run'; engine: string; workload: string; spec: RunSpec; template: string | undefined }
  | { kind: 'load'; engine: string; spec: RunSpec; dir: string }

async function runJobInProcess(job: Job): Promise<RunResult | undefined> {
  const load = ENGINE_LOADERS[job.engine]
  if (load === undefined) throw new Error(`unknown engine ${job.engine}`)
  if (job.kind === 'load') {
    await loadTemplate(await load(), job.spec, job.dir)
    return undefined
  }
  const workload = WORKLOADS.find((w) => w.name === job.workload)
  if (workload === undefined) throw new Error(`unknown workload ${job.workload}`)
  return runOnce(await load(), workload, job.spec, job.template)
}

function jobName(job: Job): string {
  return job.kind === 'load' ? `loading ${job.spec.num} entries into ${job.engine}` : `${job.workload} on ${job.engine}`
}

/** Runs one job in a fresh node process (same flags as this one) and parses its result line. */
function runJobInChild(job: Job): Promise<RunResult | undefined> {
  const script = fileURLToPath(import.meta.url)
  const args = [...process.execArgv, script, '--child', JSON.stringify(job)]
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: CHILD_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER))
      if (error !== null || line === undefined) {
        reject(new Error(`${jobName(job)} failed: ${error?.message ?? 'no result'}\n${stderr}`))
        return
      }
      for (const warning of stderr.split('\n').filter((l) => l.startsWith(LEAK_MARKER))) {
        process.stderr.write(`${warning.slice(LEAK_MARKER.length)}\n`)
      }
      resolve((JSON.parse(line.slice(RESULT_MARKER.length)) as RunResult | null) ?? undefined)
    })
  })
}

/** In a child: if something keeps the process alive after the result, report it and exit. */
function exitWhenDone(job: Job): void {
  setTimeout(() => {
    const handles = (process as unknown as { _getActiveHandles?: () => object[] })._getActiveHandles?.() ?? []
    const names = handles.map((h) => h.constructor.name).join(', ')
    process.stderr.write(`${LEAK_MARKER}${jobName(job)}: process still alive ${CHILD_EXIT_GRACE_MS} ms after close (handles: ${names})\n`)
    process.exit(0)
  }, CHILD_EXIT_GRACE_MS).unref()
}

export interface BenchOutput {
  results: RunResult[]
  summaries: Summary[]
  /** The printed report, line by line. */
  lines: string[]
}

/** Templates of loaded data, one per engine, made on first use within a run and removed after it. */
class Templates {
  private readonly dirs = new Map<string, string>()
  private root: string | undefined

  constructor(private readonly spec: RunSpec, private readonly run: (job: Job) => Promise<unknown>) {}

  async get(engine: string): Promise<string> {
    const known = this.dirs.get(engine)
    if (known !== undefined) return known
    this.root ??= await mkdtemp(join(tmpdir(), 'strata-bench-templates-'))
    const dir = join(this.root, engine)
    await this.run({ kind: 'load', engine, spec: this.spec, dir })
    this.dirs.set(engine, dir)
    return dir
  }

  async remove(): Promise<void> {
    if (this.root !== undefined) await rm(this.root, { recursive: true, force: true })
    this.root = undefined
    this.dirs.clear()
  }
}

/** Runs the whole benchmark; `log` receives one progress line per finished run. */
export async function runBench(config: BenchConfig, log: (line: string) => void = () => {}): Promise<BenchOutput> {
  const loadAtStart = loadavg()[0]!
  const factories = new Map<string, EngineFactory>()
  for (const name of config.engines) factories.set(name, await ENGINE_LOADERS[name]!())
  const spec: RunSpec = { num: config.num, ops: config.ops, valueSizeBytes: config.valueSizeBytes, seed: config.seed }
  if (config.profileDir !== undefined) spec.profileDir = resolve(config.profileDir)
  const execute = (job: Job): Promise<RunResult | undefined> => (config.inProcess ? runJobInProcess(job) : runJobInChild(job))
  const results: RunResult[] = []
  for (let run = 0; run < config.runs; run++) {
    const order = config.engines.map((_, i) => config.engines[(i + run) % config.engines.length]!)
    const templates = new Templates(spec, execute)
    try {
      for (const name of config.workloads) {
        const workload = WORKLOADS.find((w) => w.name === name)!
        for (const engine of order) {
          if (!supports(factories.get(engine)!.hasSyncGet, name)) continue
          const template = workload.needsData ? await templates.get(engine) : undefined
          const result = (await execute({ kind: 'run', engine, workload: name, spec, template }))!
          results.push(result)
          log(`run ${run + 1}/${config.runs} ${name} ${engine}: ${Math.round(result.opsPerSec)} ops/s`)
        }
      }
    } finally {
      await templates.remove()
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
      `entries ${config.num.toLocaleString('en-US')}, ops ${config.ops.toLocaleString('en-US')}, keys 16 B, values ${config.valueSizeBytes} B, runs ${config.runs}, seed ${config.seed}, sync off (fillsync: on)`,
      `node ${process.version}, ${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${process.platform}`,
      `engines: ${[...factories.values()].map((f) => f.version).join(', ')}`,
      `${load}${busy}`,
      config.inProcess ? 'runs in-process (peak RSS is cumulative)' : 'each run in a fresh child process',
    ],
    apis: new Map([...factories.values()].map((f) => [f.version, apiLine(f)])),
  }
}

function apiLine(f: EngineFactory): string {
  const getSync = f.apis.getSync === undefined ? '' : `; sync get ${f.apis.getSync}`
  return `put ${f.apis.put}; batch ${f.apis.batch}; get ${f.apis.get}${getSync}; seek ${f.apis.seek}; scan ${f.apis.iterate}; durability ${f.apis.durability}`
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--child') {
    const job = JSON.parse(argv[1] ?? '') as Job
    const result = await runJobInProcess(job)
    process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result ?? null)}\n`)
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
