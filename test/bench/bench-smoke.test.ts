/**
 * Keeps the benchmark harness from rotting: runs every workload on every engine in-process on
 * 2,000 entries and checks that each produced a positive rate, and checks the pieces the report
 * is built from (flags, key format, aggregation). Numbers are not judged here: the machine a
 * test runs on says nothing about speed.
 */
import t from 'tap'
import { ENGINE_LOADERS, QUICK_ENTRIES, parseFlags, runBench } from '../../bench/db-bench.js'
import { median, summarize } from '../../bench/report.js'
import { KEY_BYTES, ValueSource, WORKLOADS, formatKey, type RunResult } from '../../bench/workloads.js'

const SMOKE_ENTRIES = 2_000

t.test('every workload on every engine produces a positive ops/s', async (t) => {
  const config = parseFlags(['--num', String(SMOKE_ENTRIES), '--runs', '1', '--in-process', '--seed', '7'])
  const output = await runBench(config)
  const engines = Object.keys(ENGINE_LOADERS)
  t.equal(output.summaries.length, WORKLOADS.length * engines.length, 'one summary per workload and engine')
  for (const workload of WORKLOADS) {
    for (const engine of engines) {
      const s = output.summaries.find((x) => x.workload === workload.name && x.engine === engine)
      t.ok(s, `${workload.name} ran on ${engine}`)
      if (s === undefined) continue
      t.ok(Number.isFinite(s.opsPerSecMedian) && s.opsPerSecMedian > 0, `${workload.name}/${engine}: ${Math.round(s.opsPerSecMedian)} ops/s`)
      t.ok(s.diskBytes > 0, `${workload.name}/${engine}: bytes on disk`)
      t.ok(s.maxRssBytes > 0, `${workload.name}/${engine}: peak RSS`)
      if (workload.name === 'readseq') t.equal(s.p50Us, undefined, 'a scan has no per-op latency')
      else t.ok(s.p50Us !== undefined && s.p99Us !== undefined && s.p50Us <= s.p99Us, `${workload.name}/${engine}: p50 <= p99`)
      if (engine !== 'strata') t.ok(s.ratio !== undefined && s.ratio > 0, `${workload.name}/${engine}: ratio printed`)
    }
  }
  for (const r of output.results) t.equal(r.ops, SMOKE_ENTRIES, `${r.workload}/${r.engine} did every op`)
  const text = output.lines.join('\n')
  for (const workload of WORKLOADS) t.match(text, workload.name, `the report lists ${workload.name}`)
})

t.test('flags', async (t) => {
  const full = parseFlags([])
  t.equal(full.num, 1_000_000)
  t.equal(full.runs, 3)
  t.equal(full.valueSizeBytes, 100)
  t.same(full.workloads, WORKLOADS.map((w) => w.name))
  const quick = parseFlags(['--quick'])
  t.equal(quick.num, QUICK_ENTRIES)
  t.equal(quick.runs, 1)
  const explicit = parseFlags(['--quick', '--runs=2', '--num', '10', '--workloads', 'readseq,fillseq', '--engines', 'strata', '--value-size', '8'])
  t.equal(explicit.num, 10, '--num wins over --quick')
  t.equal(explicit.runs, 2, '--runs wins over --quick')
  t.same(explicit.workloads, ['readseq', 'fillseq'])
  t.same(explicit.engines, ['strata'])
  t.equal(explicit.valueSizeBytes, 8)
  t.equal(full.profileDir, undefined)
  t.equal(parseFlags(['--profile', '/tmp/profiles']).profileDir, '/tmp/profiles')
  t.throws(() => parseFlags(['--profile']), /--profile needs a value/)
  t.throws(() => parseFlags(['--profile', '--quick']), /--profile needs a value/)
  t.throws(() => parseFlags(['--nope']), /unknown flag/)
  t.throws(() => parseFlags(['--num', '0']), /--num needs an integer/)
  t.throws(() => parseFlags(['--runs']), /--runs needs an integer/)
  t.throws(() => parseFlags(['--workloads', 'fillsequential']), /unknown 'fillsequential'/)
  t.throws(() => parseFlags(['--engines', 'rocksdb']), /unknown 'rocksdb'/)
})

t.test('keys are 16-byte zero-padded decimals; values have the asked size and differ', async (t) => {
  t.equal(formatKey(0).toString('latin1'), '0000000000000000')
  t.equal(formatKey(42).toString('hex'), '30303030303030303030303030303432')
  t.equal(formatKey(999_999).toString('latin1'), '0000000000999999')
  t.equal(formatKey(Number.MAX_SAFE_INTEGER).toString('latin1'), '9007199254740991')
  t.equal(formatKey(1).length, KEY_BYTES)
  t.throws(() => formatKey(1e16), RangeError)
  t.ok(Buffer.compare(formatKey(9), formatKey(10)) < 0, 'byte order is numeric order')
  const values = new ValueSource(100, 1)
  const a = values.next()
  const b = values.next()
  t.equal(a.length, 100)
  t.not(a.toString('hex'), b.toString('hex'), 'consecutive values differ')
  t.equal(new ValueSource(0, 1).next().length, 0)
})

t.test('summaries: median, min-max and the strata/peer ratio', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 2, 3]), 2.5)
  const run = (engine: string, opsPerSec: number, p50Us: number): RunResult => ({
    workload: 'fillseq', engine, ops: 1, elapsedMs: 1, opsPerSec, p50Us, p99Us: p50Us * 2,
    mode: 'one await at a time', maxRssBytes: 1, diskBytes: 1,
  })
  const summaries = summarize([run('strata', 300, 1), run('peer', 100, 5), run('strata', 100, 3), run('peer', 50, 9), run('strata', 200, 2)])
  const strata = summaries.find((s) => s.engine === 'strata')!
  const peer = summaries.find((s) => s.engine === 'peer')!
  t.equal(strata.opsPerSecMedian, 200)
  t.equal(strata.opsPerSecMin, 100)
  t.equal(strata.opsPerSecMax, 300)
  t.equal(strata.p50Us, 2)
  t.equal(strata.ratio, undefined)
  t.equal(peer.opsPerSecMedian, 75)
  t.equal(peer.ratio, 200 / 75)
})

// ENGINE BUG found by this harness (readrandom/readseq on Strata reported 0 bytes on disk after
// close): Tree.close() unrefs the current Version, FileReferences sees the last reference of its
// tables go and deletes them, so every live table is removed and the next open fails with
// NOT_FOUND for the .sst (or, after a reopen that flushed the WAL, loses the data). Minimal
// reproduction; the assertion stays until the engine is fixed.
t.test('engine: a table survives close and reopen', async (t) => {
  const { MemVfs, Tree } = await import('../../src/engine/index.js')
  const vfs = new MemVfs()
  const first = await Tree.open('/db', { vfs })
  await first.put('k', 'v')
  await first.flush()
  const tablesBefore = (await vfs.list('/db')).filter((n) => n.endsWith('.sst'))
  t.equal(tablesBefore.length, 1, 'flush wrote one table')
  await first.close()
  const tablesAfter = (await vfs.list('/db')).filter((n) => n.endsWith('.sst'))
  t.same(tablesAfter, tablesBefore, 'close() keeps the live tables')
  const second = await Tree.open('/db', { vfs }).catch((error: unknown) => error)
  t.ok(second instanceof Tree, `reopen succeeds (got ${second instanceof Error ? second.message : 'a tree'})`)
  if (second instanceof Tree) {
    t.equal(second.get('k')?.toString(), 'v', 'the flushed value is still there')
    await second.close()
  }
})
