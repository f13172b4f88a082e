/**
 * Aggregates the runs of a benchmark and prints them as one table (plain text for a terminal,
 * or Markdown for docs/benchmarks.md), followed by how each engine was driven.
 *
 * Per (workload, engine): the median ops/s over the runs with the min-max range, the median of
 * each run's sampled p50/p99 latency, the highest peak RSS, the medians of bytes on disk, space
 * amplification, bytes written, write amplification and the event loop's p99 delay. On each
 * peer's row, the ratio Strata/peer of the median ops/s (> 1 means Strata is faster). Rows keep
 * the order workloads and engines were given in.
 */
import { CONCURRENCY, SAMPLE_EVERY, SLICE_NS } from './drivers.js'
import type { RunResult } from './run-once.js'

export const BASELINE_ENGINE = 'strata'

export interface Summary {
  workload: string
  engine: string
  runs: number
  opsPerSecMedian: number
  opsPerSecMin: number
  opsPerSecMax: number
  p50Us: number | undefined
  p99Us: number | undefined
  maxRssBytes: number
  diskBytes: number
  /** Disk bytes / logical bytes (live entries x entry size). */
  spaceAmp: number | undefined
  /** Undefined where /proc/self/io is unreadable. */
  writtenBytes: number | undefined
  /** Bytes written / bytes of entries the workload wrote; undefined for read-only workloads. */
  writeAmp: number | undefined
  eventLoopP99Ms: number
  eventLoopMaxMs: number
  mode: string
  /** Baseline ops/s divided by this engine's; undefined on the baseline's own row. */
  ratio: number | undefined
}

export interface ReportHeader {
  title: string
  lines: string[]
  /** engine name -> the APIs it was driven through, one line each. */
  apis: Map<string, string>
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of nothing')
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function medianDefined(values: readonly (number | undefined)[]): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined)
  return defined.length === 0 ? undefined : median(defined)
}

/** One Summary per (workload, engine) that has results, in first-seen order. */
export function summarize(results: readonly RunResult[]): Summary[] {
  const groups = new Map<string, RunResult[]>()
  for (const r of results) {
    const id = `${r.workload}\u0000${r.engine}`
    const group = groups.get(id)
    if (group === undefined) groups.set(id, [r])
    else group.push(r)
  }
  const out: Summary[] = []
  for (const group of groups.values()) {
    const first = group[0]!
    const rates = group.map((r) => r.opsPerSec)
    out.push({
      workload: first.workload,
      engine: first.engine,
      runs: group.length,
      opsPerSecMedian: median(rates),
      opsPerSecMin: Math.min(...rates),
      opsPerSecMax: Math.max(...rates),
      p50Us: medianDefined(group.map((r) => r.p50Us)),
      p99Us: medianDefined(group.map((r) => r.p99Us)),
      maxRssBytes: Math.max(...group.map((r) => r.maxRssBytes)),
      diskBytes: median(group.map((r) => r.diskBytes)),
      spaceAmp: medianDefined(group.map((r) => (r.logicalBytes > 0 ? r.diskBytes / r.logicalBytes : undefined))),
      writtenBytes: group.some((r) => r.writtenBytes === undefined) ? undefined : median(group.map((r) => r.writtenBytes!)),
      writeAmp: medianDefined(group.map((r) => (r.writtenBytes !== undefined && r.logicalWrittenBytes > 0 ? r.writtenBytes / r.logicalWrittenBytes : undefined))),
      eventLoopP99Ms: median(group.map((r) => r.eventLoopP99Ms)),
      eventLoopMaxMs: Math.max(...group.map((r) => r.eventLoopMaxMs)),
      mode: first.mode,
      ratio: undefined,
    })
  }
  for (const s of out) {
    if (s.engine === BASELINE_ENGINE) continue
    const base = out.find((b) => b.workload === s.workload && b.engine === BASELINE_ENGINE)
    if (base !== undefined) s.ratio = base.opsPerSecMedian / s.opsPerSecMedian
  }
  return out
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })

function opsText(n: number): string {
  return integer.format(Math.round(n))
}

function microsText(us: number | undefined): string {
  if (us === undefined) return '-'
  return us < 10 ? us.toFixed(2) : us < 100 ? us.toFixed(1) : integer.format(Math.round(us))
}

function mebibytesText(bytes: number | undefined): string {
  return bytes === undefined ? '-' : `${(bytes / (1024 * 1024)).toFixed(1)}`
}

function factorText(factor: number | undefined): string {
  return factor === undefined ? '-' : factor.toFixed(2)
}

function millisText(ms: number): string {
  return ms < 10 ? ms.toFixed(2) : integer.format(Math.round(ms))
}

const COLUMNS = [
  'workload', 'engine', 'ops/s', 'min-max ops/s', 'strata/peer', 'p50 µs', 'p99 µs', 'peak RSS MiB',
  'disk MiB', 'space amp', 'written MiB', 'write amp', 'loop p99 ms', 'issued as',
]
/** Columns aligned right in the text table (the numbers). */
const NUMERIC = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])

function rowCells(s: Summary, previousWorkload: string | undefined, markdown: boolean): string[] {
  return [
    s.workload === previousWorkload && !markdown ? '' : s.workload,
    s.engine,
    opsText(s.opsPerSecMedian),
    s.runs > 1 ? `${opsText(s.opsPerSecMin)}-${opsText(s.opsPerSecMax)}` : '-',
    s.ratio === undefined ? '' : `${s.ratio.toFixed(2)}x`,
    microsText(s.p50Us),
    microsText(s.p99Us),
    mebibytesText(s.maxRssBytes),
    mebibytesText(s.diskBytes),
    factorText(s.spaceAmp),
    mebibytesText(s.writtenBytes),
    factorText(s.writeAmp),
    millisText(s.eventLoopP99Ms),
    s.mode,
  ]
}

function textTable(rows: string[][]): string[] {
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]): string =>
    cells.map((c, i) => (NUMERIC.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()
  return [line(COLUMNS), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)]
}

function markdownTable(rows: string[][]): string[] {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`
  const rule = COLUMNS.map((_, i) => (NUMERIC.has(i) ? '---:' : '---'))
  return [line(COLUMNS), line(rule), ...rows.map(line)]
}

/** The whole report as lines: header, table, then how each engine was driven. */
export function formatReport(header: ReportHeader, summaries: readonly Summary[], markdown = false): string[] {
  const rows: string[][] = []
  let previous: string | undefined
  for (const s of summaries) {
    rows.push(rowCells(s, previous, markdown))
    previous = s.workload
  }
  const out = markdown ? [`**${header.title}**`, '', ...header.lines.map((l) => `- ${l}`), ''] : [header.title, ...header.lines, '']
  out.push(...(markdown ? markdownTable(rows) : textTable(rows)), '')
  out.push(...[
    `ops/s: median over runs; latency: per op, sampled every ${SAMPLE_EVERY}th op (median of the runs);`,
    'peak RSS: process maxRSS at the end of the run; disk: allocated bytes of the database directory right',
    'after the timed part; space amp: disk / (live entries x entry bytes); written: /proc/self/io write_bytes',
    'from the start of the timed part to the end of close; write amp: written / (entries written x entry bytes);',
    `loop p99: perf_hooks.monitorEventLoopDelay (1 ms resolution) during the timed part; synchronous loops yield`,
    `every ${Number(SLICE_NS) / 1e6} ms. Reads: each engine's primary point read (a sync loop for a sync read, else`,
    `${CONCURRENCY} promises in flight); readrandom-sync: a synchronous read on every engine that has one.`,
  ].map((line) => (markdown ? `${line}  ` : line)))
  out.push('')
  for (const [engine, apis] of header.apis) out.push(markdown ? `- ${engine}: ${apis}` : `${engine}: ${apis}`)
  return out
}
