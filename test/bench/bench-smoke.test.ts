/**
 * Keeps the benchmark harness from rotting: runs every workload on every engine in-process on
 * 2,000 entries and checks that each produced a positive rate and every column, and checks the
 * pieces the report is built from (flags, key formats, aggregation). Numbers are not judged
 * here: the machine a test runs on says nothing about speed. That wrong answers fail a run is
 * bench-checks.test.ts; the key choosers are zipfian.test.ts.
 */
import t from 'tap'
import { ENGINE_LOADERS, QUICK_ENTRIES, parseFlags, runBench } from '../../bench/db-bench.js'
import { KEY_BYTES, ValueSource, WrittenKeys, formatKey, keyNumber, missingKey } from '../../bench/data.js'
import { formatReport, median, summarize } from '../../bench/report.js'
import type { RunResult } from '../../bench/run-once.js'
import { WORKLOADS } from '../../bench/workloads.js'

const SMOKE_ENTRIES = 2_000
const READ_ONLY = new Set(['readrandom', 'readrandom-sync', 'readmissing', 'seekrandom', 'readseq', 'ycsb-c'])

t.test('every workload on every engine produces a rate and every column', async (t) => {
  const config = parseFlags(['--num', String(SMOKE_ENTRIES), '--runs', '1', '--in-process', '--seed', '7'])
  const output = await runBench(config)
  const engines = Object.keys(ENGINE_LOADERS)
  t.same(engines, ['strata', 'classic-level', 'rocksdb', 'lmdb'], 'the peers the issue names')
  for (const workload of WORKLOADS) {
    for (const engine of engines) {
      const s = output.summaries.find((x) => x.workload === workload.name && x.engine === engine)
      if (workload.name === 'readrandom-sync' && engine === 'rocksdb') {
        t.equal(s, undefined, 'rocksdb has no synchronous read: readrandom-sync is skipped, not faked')
        continue
      }
      t.ok(s, `${workload.name} ran on ${engine}`)
      if (s === undefined) continue
      const at = `${workload.name}/${engine}`
      t.ok(Number.isFinite(s.opsPerSecMedian) && s.opsPerSecMedian > 0, `${at}: ${Math.round(s.opsPerSecMedian)} ops/s`)
      t.ok(s.diskBytes > 0 && s.spaceAmp !== undefined && s.spaceAmp > 0, `${at}: disk and space amplification`)
      t.ok(s.maxRssBytes > 0, `${at}: peak RSS`)
      t.ok(s.eventLoopP99Ms >= 0 && s.eventLoopMaxMs >= s.eventLoopP99Ms, `${at}: event-loop delay`)
      t.ok(s.writtenBytes !== undefined && s.writtenBytes >= 0, `${at}: bytes written (/proc/self/io)`)
      if (READ_ONLY.has(workload.name)) t.equal(s.writeAmp, undefined, `${at}: no write amplification without writes`)
      else t.ok(s.writeAmp !== undefined && s.writeAmp > 0, `${at}: write amplification ${s.writeAmp?.toFixed(2)}`)
      if (workload.name === 'readseq') t.equal(s.p50Us, undefined, 'a scan has no per-op latency')
      else t.ok(s.p50Us !== undefined && s.p99Us !== undefined && s.p50Us <= s.p99Us, `${at}: p50 <= p99`)
      if (engine !== 'strata') t.ok(s.ratio !== undefined && s.ratio > 0, `${at}: ratio printed`)
    }
  }
  for (const r of output.results) t.equal(r.ops, SMOKE_ENTRIES, `${r.workload}/${r.engine} did every op`)
  const text = output.lines.join('\n')
  for (const workload of WORKLOADS) t.match(text, workload.name, `the report lists ${workload.name}`)
  for (const column of ['space amp', 'write amp', 'loop p99 ms', 'peak RSS MiB', 'strata/peer']) t.match(text, column)
  t.match(text, /rocksdb@\S+ \(RocksDB\): put/, 'the APIs each engine was driven through')
  t.match(text, /lmdb@\S+ \(LMDB\): put .*durability noSync: true/)
})

t.test('child processes: a template loaded in one child, each run in its own', async (t) => {
  // lmdb only: a child under the test runner transpiles what it imports, and Strata's engine
  // costs seconds per child there (the compiled harness does not)
  const config = parseFlags(['--num', '300', '--runs', '1', '--children', '--workloads', 'fillseq,readrandom', '--engines', 'lmdb'])
  const output = await runBench(config)
  t.same(output.results.map((r) => `${r.workload}/${r.engine}`), ['fillseq/lmdb', 'readrandom/lmdb'])
  for (const r of output.results) t.ok(r.ops === 300 && r.opsPerSec > 0 && r.diskBytes > 0, `${r.workload}/${r.engine} came back from its child`)
  t.match(output.lines.join('\n'), 'each run in a fresh child process')
})

t.test('flags', async (t) => {
  const full = parseFlags([])
  t.equal(full.num, 1_000_000)
  t.equal(full.ops, 1_000_000)
  t.equal(full.runs, 3)
  t.equal(full.valueSizeBytes, 100)
  t.same(full.workloads, WORKLOADS.map((w) => w.name))
  t.same(full.engines, Object.keys(ENGINE_LOADERS))
  const quick = parseFlags(['--quick'])
  t.equal(quick.num, QUICK_ENTRIES)
  t.equal(quick.ops, QUICK_ENTRIES)
  t.equal(quick.runs, 1)
  t.equal(quick.inProcess, true, '--quick runs in-process')
  t.equal(parseFlags(['--quick', '--children']).inProcess, false)
  t.equal(full.inProcess, false, 'a full run starts a fresh child process per run')
  t.same(quick.workloads, full.workloads, '--quick still runs every workload')
  t.same(quick.engines, full.engines, '--quick still runs every engine')
  const explicit = parseFlags(['--quick', '--runs=2', '--num', '10', '--ops', '5', '--workloads', 'readseq,ycsb-e', '--engines', 'strata,lmdb', '--value-size', '8'])
  t.equal(explicit.num, 10, '--num wins over --quick')
  t.equal(explicit.ops, 5)
  t.equal(explicit.runs, 2, '--runs wins over --quick')
  t.same(explicit.workloads, ['readseq', 'ycsb-e'])
  t.same(explicit.engines, ['strata', 'lmdb'])
  t.equal(explicit.valueSizeBytes, 8)
  t.equal(parseFlags(['--num', '300']).ops, 300, '--ops defaults to --num')
  t.equal(full.profileDir, undefined)
  t.equal(parseFlags(['--profile', '/tmp/profiles']).profileDir, '/tmp/profiles')
  t.throws(() => parseFlags(['--profile']), /--profile needs a value/)
  t.throws(() => parseFlags(['--profile', '--quick']), /--profile needs a value/)
  t.throws(() => parseFlags(['--nope']), /unknown flag/)
  t.throws(() => parseFlags(['--num', '1']), /--num needs an integer/)
  t.throws(() => parseFlags(['--ops', '0']), /--ops needs an integer/)
  t.throws(() => parseFlags(['--runs']), /--runs needs an integer/)
  t.throws(() => parseFlags(['--workloads', 'fillsequential']), /unknown 'fillsequential'/)
  t.throws(() => parseFlags(['--engines', 'leveldown']), /unknown 'leveldown'/)
})

t.test('keys: 16-byte decimals; missing keys sort between loaded keys and are never loaded', async (t) => {
  t.equal(formatKey(0).toString('latin1'), '0000000000000000')
  t.equal(formatKey(42).toString('hex'), '30303030303030303030303030303432')
  t.equal(formatKey(999_999).toString('latin1'), '0000000000999999')
  t.equal(formatKey(Number.MAX_SAFE_INTEGER).toString('latin1'), '9007199254740991')
  t.equal(formatKey(1).length, KEY_BYTES)
  t.throws(() => formatKey(1e16), RangeError)
  t.ok(Buffer.compare(formatKey(9), formatKey(10)) < 0, 'byte order is numeric order')
  t.equal(missingKey(123).toString('latin1'), '000000000000123.')
  t.equal(missingKey(123).length, KEY_BYTES)
  t.ok(Buffer.compare(formatKey(1229), missingKey(123)) < 0 && Buffer.compare(missingKey(123), formatKey(1230)) < 0, 'inside the key range')
  t.equal(keyNumber(missingKey(123)), -1, 'never a loaded key')
  t.throws(() => missingKey(1e15), RangeError)
  t.equal(keyNumber(formatKey(987_654)), 987_654)
  t.equal(keyNumber(Buffer.from('12')), -1)
  const values = new ValueSource(100, 1)
  const a = values.next()
  const b = values.next()
  t.equal(a.length, 100)
  t.not(a.toString('hex'), b.toString('hex'), 'consecutive values differ')
  t.equal(new ValueSource(0, 1).next().length, 0)
})

t.test('written keys: distinct count, and the values a sampled key may hold', async (t) => {
  const written = new WrittenKeys(10, 4) // stride 1 below 1,000 keys: every key sampled
  t.equal(written.distinct, 4)
  const v = (s: string): Buffer => Buffer.from(s)
  written.issue(2, v('a'))
  written.acknowledge(2)
  written.issue(7, v('b'))
  written.acknowledge(7)
  t.equal(written.distinct, 5, 'key 2 was preloaded, key 7 is new')
  t.equal(written.writes, 2)
  written.issue(7, v('c'))
  written.acknowledge(7)
  t.same(written.sample().get(7)?.map(String), ['c'], 'a write issued alone replaces what the key may hold')
  written.issue(7, v('d'))
  written.issue(7, v('e'))
  written.acknowledge(7)
  written.acknowledge(7)
  t.same(written.sample().get(7)?.map(String), ['d', 'e'], 'overlapping writes may land in either order')
})

t.test('summaries: median, min-max, the strata/peer ratio and the amplification columns', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 2, 3]), 2.5)
  const run = (engine: string, opsPerSec: number, p50Us: number): RunResult => ({
    workload: 'fillseq', engine, ops: 1, elapsedMs: 1, opsPerSec, p50Us, p99Us: p50Us * 2,
    mode: 'one await at a time', maxRssBytes: 1, diskBytes: 200, logicalBytes: 100,
    writtenBytes: 300, logicalWrittenBytes: 100, eventLoopP99Ms: p50Us, eventLoopMaxMs: 10,
  })
  const summaries = summarize([run('strata', 300, 1), { ...run('peer', 100, 5), writtenBytes: undefined }, run('strata', 100, 3), run('peer', 50, 9), run('strata', 200, 2)])
  const strata = summaries.find((s) => s.engine === 'strata')!
  const peer = summaries.find((s) => s.engine === 'peer')!
  t.equal(strata.opsPerSecMedian, 200)
  t.equal(strata.opsPerSecMin, 100)
  t.equal(strata.opsPerSecMax, 300)
  t.equal(strata.p50Us, 2)
  t.equal(strata.ratio, undefined)
  t.equal(strata.spaceAmp, 2)
  t.equal(strata.writtenBytes, 300)
  t.equal(strata.writeAmp, 3)
  t.equal(strata.eventLoopP99Ms, 2)
  t.equal(peer.opsPerSecMedian, 75)
  t.equal(peer.ratio, 200 / 75)
  t.equal(peer.writtenBytes, undefined, 'a run without /proc/self/io leaves the column empty')
  const lines = formatReport({ title: 'x', lines: [], apis: new Map() }, summaries, true)
  t.ok(lines.some((l) => l.startsWith('| fillseq | peer | 75 |')), 'markdown rows')
})
