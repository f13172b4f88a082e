/**
 * A fast wrong answer is not a result: every workload checks what the engine returns, and a run
 * with a wrong answer throws instead of printing a number. Each case wraps the real Strata
 * adapter in a "lying" engine that breaks one promise (a read that misses, a read of a missing
 * key that hits, a seek that skips an entry, a scan that loses one, a write that is dropped, a
 * YCSB scan that starts elsewhere) and checks that the run fails with the workload's message.
 */
import t from 'tap'
import { formatKey, keyNumber } from '../../bench/data.js'
import { strataEngine } from '../../bench/engines/strata.js'
import type { BenchEngine, EngineFactory } from '../../bench/engines/types.js'
import { runOnce } from '../../bench/run-once.js'
import { WORKLOADS, type RunSpec } from '../../bench/workloads.js'

const SPEC: RunSpec = { num: 400, ops: 400, valueSizeBytes: 100, seed: 11 }

/** The Strata adapter with some methods replaced; `real` is the engine being wrapped. */
function lying(name: string, override: (real: BenchEngine) => Partial<BenchEngine>): EngineFactory {
  return {
    ...strataEngine,
    name,
    async open(dir, options) {
      const real = await strataEngine.open(dir, options)
      const wrapped = Object.create(real) as BenchEngine
      return Object.assign(wrapped, override(real))
    },
  }
}

function workload(name: string) {
  const found = WORKLOADS.find((w) => w.name === name)
  if (found === undefined) throw new Error(`no workload ${name}`)
  return found
}

/** Strata's synchronous get, typed as such (the adapter's reads are synchronous). */
function getOf(real: BenchEngine): (key: Buffer) => Buffer | undefined {
  return (key) => real.get(key) as Buffer | undefined
}

t.test('the honest adapter passes every check', async (t) => {
  for (const name of ['readrandom', 'readmissing', 'seekrandom', 'readseq', 'fillrandom', 'ycsb-e', 'ycsb-d']) {
    const result = await runOnce(strataEngine, workload(name), SPEC)
    t.equal(result.ops, SPEC.num, `${name} completes`)
  }
})

t.test('a read of a loaded key that misses fails readrandom, readwhilewriting and YCSB', async (t) => {
  const missesKey7 = lying('misses-7', (real) => ({
    get: (key: Buffer) => (keyNumber(key) % 7 === 0 ? undefined : getOf(real)(key)),
  }))
  for (const name of ['readrandom', 'readrandom-sync', 'readwhilewriting', 'ycsb-b', 'ycsb-c', 'ycsb-f']) {
    await t.rejects(runOnce(missesKey7, workload(name), SPEC), /a loaded key was not found/, name)
  }
})

t.test('a read of a key never written that hits fails readmissing', async (t) => {
  const alwaysHits = lying('always-hits', () => ({ get: () => Buffer.alloc(100) }))
  await t.rejects(runOnce(alwaysHits, workload('readmissing'), SPEC), /a key that was never written was found/)
})

t.test('a value of the wrong size fails a read', async (t) => {
  const short = lying('short-values', (real) => ({ get: (key: Buffer) => getOf(real)(key)?.subarray(0, 10) }))
  await t.rejects(runOnce(short, workload('ycsb-c'), SPEC), /value of 10 bytes, expected 100/)
})

t.test('a seek that skips an entry fails seekrandom', async (t) => {
  const skips = lying('skips', (real) => ({
    cursor(readAheadBytes: number) {
      const cursor = real.cursor(readAheadBytes)
      return {
        seek: (target: Buffer, count: number) => {
          const entries = cursor.seek(target, count + 1) as [Buffer, Buffer][]
          return entries.length > 2 ? [entries[0]!, ...entries.slice(2)] : entries.slice(0, count)
        },
        close: () => cursor.close(),
      }
    },
  }))
  await t.rejects(runOnce(skips, workload('seekrandom'), SPEC), /entry 1 after seeking key \d+ is not key/)
})

t.test('a scan that loses an entry fails readseq', async (t) => {
  const loses = lying('loses', (real) => ({
    scan: (visit: (key: Buffer, value: Buffer) => void) => real.scan((key, value) => {
      if (keyNumber(key) !== 5) visit(key, value)
    }).then((count) => count - 1),
  }))
  await t.rejects(runOnce(loses, workload('readseq'), SPEC), /scanned 399 entries, loaded 400/)
  const reorders = lying('reorders', (real) => ({
    scan: (visit: (key: Buffer, value: Buffer) => void) => real.scan((key, value) => visit(keyNumber(key) === 5 ? formatKey(6) : key, value)),
  }))
  await t.rejects(runOnce(reorders, workload('readseq'), SPEC), /1 entries of the wrong size or out of order/)
})

t.test('a YCSB scan that starts at another key fails ycsb-e', async (t) => {
  const shifted = lying('shifted', (real) => ({
    range: (start: Buffer, count: number) => real.range(formatKey(keyNumber(start) + 1), count),
  }))
  await t.rejects(runOnce(shifted, workload('ycsb-e'), SPEC), /entry 0 of the scan from key \d+ is not key|returned 0 entries/)
})

t.test('a write acknowledged but dropped fails the read-back after a write workload', async (t) => {
  // the read-back samples every key below 1,000 keys: dropping the even ones must be seen
  const dropsEvenPuts = lying('drops-even-puts', (real) => ({
    put: (key: Buffer, value: Buffer) => (keyNumber(key) % 2 === 0 ? Promise.resolve() : real.put(key, value)),
  }))
  for (const name of ['fillseq', 'fillrandom', 'fillrandom-concurrent']) {
    await t.rejects(runOnce(dropsEvenPuts, workload(name), SPEC), /written key \d+ is missing after the run/, name)
  }
  // on loaded data (loaded through batch, intact) the old value is still there
  for (const name of ['overwrite', 'ycsb-a', 'ycsb-f']) {
    await t.rejects(runOnce(dropsEvenPuts, workload(name), SPEC), /written key \d+ holds a value that was never written to it/, name)
  }
  // readwhilewriting writes at a fixed rate for as long as its reads take: 400 sync gets can
  // finish within a millisecond (one write, maybe to an odd key), so give it reads enough for
  // a few hundred writes at any read speed this code reaches
  await t.rejects(runOnce(dropsEvenPuts, workload('readwhilewriting'), { ...SPEC, ops: 50_000 }),
    /written key \d+ holds a value that was never written to it/, 'readwhilewriting')
  await t.rejects(runOnce(dropsEvenPuts, workload('ycsb-d'), SPEC), /a loaded key was not found|is missing after the run/, 'ycsb-d: a dropped insert')
  const dropsEvenBatched = lying('drops-even-batched', (real) => ({
    batch: (entries: readonly (readonly [Buffer, Buffer])[]) => real.batch(entries.filter(([key]) => keyNumber(key) % 2 !== 0)),
  }))
  for (const name of ['fillbatch', 'fillsync']) {
    await t.rejects(runOnce(dropsEvenBatched, workload(name), SPEC), /written key \d+ is missing after the run/, name)
  }
})
