/**
 * Crash tests on MemVfs (pebble vfs.NewCrashableMem, leveldb db/fault_injection_test.cc):
 * a deterministic workload (puts, deletes, deleteRange, merges, batches with marker keys,
 * concurrent bursts, WAL rotations, flushes, one compact()) runs once on a FaultVfs over a
 * HookVfs over a MemVfs; at EVERY sync point the state a crash would leave is captured:
 * - power loss right after the k-th sync or syncDir returns (crashClone, torn writes off and on),
 *   and right before it starts (torn writes on: unsynced bytes torn at a random length);
 * - (sync 'none') a killed process before every mutating file-system call: all bytes kept.
 * Each captured state is reopened and must equal the model after SOME prefix of the issued
 * writes that covers every acknowledged one; each batch is all-or-nothing (marker key).
 *
 * Capturing all crash states in one run is equivalent to re-running the deterministic workload
 * once per crash point (crashClone does not change the source), and much faster.
 *
 *   STRATA_SEED=<n> replays a run; STRATA_TEST_SCALE=<k> multiplies the workload.
 */
import t, { type Test } from 'tap'

import { FaultVfs, MemVfs, Tree, type TreeOptions } from '../../../src/engine/index.js'
import {
  HookVfs,
  caught,
  WriteLog,
  buildWorkload,
  describeDiff,
  describeError,
  keyUniverse,
  killCopy,
  matchingPrefixes,
  pointState,
  prefixStateTexts,
  runSteps,
  scanState,
  stateAfter,
  stateText,
  writesOf,
  type Step,
  type Write,
} from '../../helpers/crash-tools.js'
import { testScale, testSeed } from '../../helpers/prng.js'

const DIR = '/db'
/** Writes per workload at CI size: ~200 writes give a few hundred sync points. */
const WRITES_AT_CI_SIZE = 200
/** Small memtables and tables so WAL rotations, flushes and multi-table compactions happen. */
const BASE_OPTIONS: TreeOptions = {
  mergeOperator: 'append',
  memtableBytes: 4096,
  blockBytes: 256,
  tableBytes: 4096,
}
/** Point reads of the whole key space cost more than a scan; sampling keeps the file fast. */
const POINT_READS_EVERY = 5
/** Every RECHECK_EVERY-th crash state is also written to, closed and recovered a second time. */
const RECHECK_EVERY = 13
/** File-system calls that change what a killed process leaves behind. */
const MUTATING_OPS = new Set(['create', 'append', 'rename', 'link', 'remove', 'removeAll', 'mkdirp'])

interface CrashPoint {
  label: string
  vfs: MemVfs
  /** Writes issued when the crash happened. */
  issued: number
  /** Writes acknowledged when the crash happened (a prefix of the issued ones). */
  acked: number
  /** The crash must keep at least the acknowledged writes (false: any prefix, sync 'none' power loss). */
  keepsAcked: boolean
  /** Also read every key with get() and compare with the scan (every POINT_READS_EVERY-th point). */
  pointReads: boolean
}

interface Harness {
  mem: MemVfs
  hook: HookVfs
  fault: FaultVfs
  log: WriteLog
  points: CrashPoint[]
  fingerprints: Set<string>
}

function newHarness(): Harness {
  const mem = new MemVfs()
  const hook = new HookVfs(mem)
  return { mem, hook, fault: new FaultVfs(hook), log: new WriteLog(), points: [], fingerprints: new Set() }
}

/**
 * Records a crash state, unless an identical one (same file sizes, same issued and acked
 * counts) was recorded already: a power loss right after a sync and right before the next one
 * often leave the same bytes. Sizes identify a state because clones are deterministic prefixes.
 */
function capture(h: Harness, label: string, vfs: MemVfs, keepsAcked = true): void {
  const sizes = [...h.hook.knownPaths].map((path) => `${path}:${fileSize(vfs, path)}`).join(',')
  const fingerprint = `${h.log.issued}/${h.log.acked}/${keepsAcked}/${sizes}`
  if (h.fingerprints.has(fingerprint)) return
  h.fingerprints.add(fingerprint)
  const pointReads = h.points.length % POINT_READS_EVERY === 0
  h.points.push({ label, vfs, issued: h.log.issued, acked: h.log.acked, keepsAcked, pointReads })
}

function fileSize(vfs: MemVfs, path: string): number {
  try {
    return vfs.fileData(path).length
  } catch {
    return -1
  }
}

/** Opens, runs and closes the workload; the hooks capture crash states on the way. */
async function runWorkload(h: Harness, steps: readonly Step[], options: TreeOptions): Promise<void> {
  const tree = await Tree.open(DIR, { ...options, vfs: h.fault })
  const failure = await runSteps(tree, steps, h.log)
  if (failure !== undefined) throw failure
  await tree.close()
}

/**
 * Reopens the crash state and checks it against the model: the state is the model after some
 * prefix p of the issued writes, p >= acknowledged writes; scan and point reads agree; batch
 * markers present exactly for the batches inside the prefix. Returns the prefix, or undefined
 * after reporting a failure.
 */
async function checkPoint(
  t: Test,
  point: CrashPoint,
  writes: readonly Write[],
  texts: readonly string[],
  options: TreeOptions,
): Promise<number | undefined> {
  let tree: Tree
  try {
    tree = await Tree.open(DIR, { ...options, vfs: point.vfs })
  } catch (error) {
    t.fail(`${point.label}: reopen failed: ${describeError(error)}`)
    return undefined
  }
  try {
    const scanned = scanState(tree)
    const lowest = point.keepsAcked ? point.acked : 0
    const prefixes = matchingPrefixes(texts, stateText(scanned), lowest, point.issued)
    if (prefixes.length === 0) {
      const expected = stateAfter(writes, point.acked)
      t.fail(`${point.label}: state is no prefix in [${lowest}, ${point.issued}] of the writes; vs the acked prefix ${point.acked}: ${describeDiff(expected, scanned)}`)
      return undefined
    }
    const pointRead = point.pointReads ? pointState(tree, keyUniverse(writes)) : scanned
    if (stateText(pointRead) !== stateText(scanned)) {
      t.fail(`${point.label}: point reads disagree with the scan: ${describeDiff(scanned, pointRead)}`)
      return undefined
    }
    const p = prefixes[0] as number
    checkMarkers(t, point, writes, scanned, p)
    return p
  } finally {
    await tree.close()
  }
}

/** No batch is half-applied: a marker is present iff its batch is in the recovered prefix (the
 *  prefix match already implies it; this names the batch when it fails). */
function checkMarkers(t: Test, point: CrashPoint, writes: readonly Write[], state: Map<string, string>, p: number): void {
  writes.slice(0, point.issued).forEach((w, index) => {
    if (w.type !== 'batch') return
    const present = state.has(w.marker)
    if (present !== index < p) t.fail(`${point.label}: batch ${w.marker} (write ${index}) marker ${present ? 'present' : 'absent'} but prefix is ${p}`)
  })
}

/** Checks every crash point; every `recheckEvery`-th is recovered a second time after one more
 *  write (recovery of a recovered tree). Returns the number of points checked. */
async function checkAll(t: Test, h: Harness, steps: readonly Step[], options: TreeOptions, recheckEvery: number): Promise<number> {
  const writes = writesOf(steps)
  const texts = prefixStateTexts(writes)
  let failures = 0
  for (const [index, point] of h.points.entries()) {
    const p = await checkPoint(t, point, writes, texts, options)
    if (p === undefined) {
      if (++failures >= 5) {
        t.fail('stopping after 5 failing crash points')
        break
      }
      continue
    }
    if (index % recheckEvery === 0) await recheckAfterRecovery(t, point, writes, p, options)
  }
  return h.points.length
}

/** After a recovery, one more write, close, reopen: the prefix plus that write. */
async function recheckAfterRecovery(t: Test, point: CrashPoint, writes: readonly Write[], p: number, options: TreeOptions): Promise<void> {
  const failure = await caught(async () => {
    const first = await Tree.open(DIR, { ...options, vfs: point.vfs })
    await first.put('zz/after-recovery', point.label)
    await first.close()
    const second = await Tree.open(DIR, { ...options, vfs: point.vfs })
    try {
      const expected = stateAfter(writes, p)
      expected.set('zz/after-recovery', point.label)
      const actual = scanState(second)
      if (stateText(actual) !== stateText(expected)) t.fail(`${point.label}: second recovery: ${describeDiff(expected, actual)}`)
    } finally {
      await second.close()
    }
  })
  if (failure !== undefined) t.fail(`${point.label}: write, close and reopen after recovery failed: ${describeError(failure)}`)
}

t.test('power loss at every sync point, sync always', async (t) => {
  const seed = testSeed()
  const writeCount = Math.round(WRITES_AT_CI_SIZE * testScale())
  t.comment(`seed ${seed} (STRATA_SEED=${seed} replays), ${writeCount} writes`)
  const steps = buildWorkload(seed, writeCount)
  const options: TreeOptions = { ...BASE_OPTIONS, sync: 'always' }
  const h = newHarness()
  let syncPoints = 0
  h.hook.afterSync = (kind, path) => {
    syncPoints++
    const label = `seed ${seed} after sync point ${syncPoints} (${kind} ${path})`
    capture(h, `${label}`, h.mem.crashClone({ seed: syncPoints }))
    capture(h, `${label} torn`, h.mem.crashClone({ seed: syncPoints, tornWrites: true }))
  }
  h.fault.onOp = (op, path) => {
    if (op !== 'sync' && op !== 'syncDir') return
    capture(h, `seed ${seed} before sync point ${syncPoints + 1} (${op} ${path}) torn`, h.mem.crashClone({ seed: ~syncPoints, tornWrites: true }))
  }
  await runWorkload(h, steps, options)
  h.hook.afterSync = undefined
  h.fault.onOp = undefined

  const counted = h.fault.count('sync') + h.fault.count('syncDir')
  t.equal(syncPoints, counted, 'every sync and syncDir of the FaultVfs is a captured sync point')
  t.ok(h.log.acked === writesOf(steps).length && h.log.failures.size === 0, 'the workload itself succeeded')
  const writeSteps = steps.filter((s) => s.kind === 'writes').length
  t.ok(counted >= writeSteps, `at least one sync per group of concurrent writes (${counted} sync points, ${writeSteps} groups)`)
  const startedMs = performance.now()
  const checked = await checkAll(t, h, steps, options, RECHECK_EVERY)
  t.comment(`verified in ${Math.round(performance.now() - startedMs)} ms`)
  t.ok(checked >= counted, `checked ${checked} distinct crash states (of ${3 * counted} captures)`)
})

t.test('killed process at every mutating call, sync none: every resolved write survives', async (t) => {
  const baseSeed = testSeed()
  const seed = (baseSeed ^ 0x5bd1e995) >>> 0 // another workload than the sync 'always' test's
  const writeCount = Math.round(WRITES_AT_CI_SIZE * testScale())
  t.comment(`workload seed ${seed} (STRATA_SEED=${baseSeed} replays), ${writeCount} writes`)
  const steps = buildWorkload(seed, writeCount)
  const options: TreeOptions = { ...BASE_OPTIONS, sync: 'none' }
  const h = newHarness()
  let calls = 0
  h.fault.onOp = (op, path) => {
    calls++
    if (op === 'sync' || op === 'syncDir') {
      // Power loss under sync 'none' keeps no promise about acknowledged writes, but the state
      // must still be a prefix of the writes.
      capture(h, `seed ${seed} power loss before call ${calls} (${op} ${path})`, h.mem.crashClone({ seed: calls }), false)
    }
    if (!MUTATING_OPS.has(op)) return
    // A kill between two block appends of a table being built leaves an unreferenced partial
    // table, like a kill before its first append: one such state per table is enough.
    if (op === 'append' && path.endsWith('.sst')) return
    capture(h, `seed ${seed} kill before call ${calls} (${op} ${path})`, killCopy(h.mem, h.hook.knownPaths))
  }
  await runWorkload(h, steps, options)
  h.fault.onOp = undefined
  capture(h, `seed ${seed} kill after close`, killCopy(h.mem, h.hook.knownPaths))
  t.ok(h.log.acked === writesOf(steps).length && h.log.failures.size === 0, 'the workload itself succeeded')
  const startedMs = performance.now()
  const checked = await checkAll(t, h, steps, options, RECHECK_EVERY)
  t.comment(`verified in ${Math.round(performance.now() - startedMs)} ms`)
  t.ok(checked > writeCount, `checked ${checked} crash states`)
})

t.test('abandoned tree (no close) on the same MemVfs: reopen is LOCKED, a kill copy recovers', async (t) => {
  const mem = new MemVfs()
  const hook = new HookVfs(mem)
  const tree = await Tree.open(DIR, { ...BASE_OPTIONS, sync: 'none', vfs: hook })
  const keys = Array.from({ length: 300 }, (_, i) => `k${String(i).padStart(3, '0')}`)
  for (const key of keys) await tree.put(key, `v-${key}-${'x'.repeat(40)}`)
  t.ok(tree.stats().flushes > 0, 'the memtable rotated and flushed at least once')
  // MemVfs locks are in memory: the abandoned tree still holds it, as a live process would.
  const locked = await caught(async () => (await Tree.open(DIR, { ...BASE_OPTIONS, sync: 'none', vfs: mem })).close())
  t.match(locked, { code: 'LOCKED' }, 'a second open of a held tree is LOCKED')
  const reopened = await Tree.open(DIR, { ...BASE_OPTIONS, sync: 'none', vfs: killCopy(mem, hook.knownPaths) })
  const lost = keys.filter((key) => reopened.get(key)?.toString() !== `v-${key}-${'x'.repeat(40)}`)
  t.same(lost, [], 'every resolved write of the abandoned tree is in the kill copy')
  await reopened.close()
  await tree.close()
})

t.test('close() keeps the live tables: flush, compact, close, reopen (regression)', async (t) => {
  const mem = new MemVfs()
  const tree = await Tree.open(DIR, { ...BASE_OPTIONS, vfs: mem })
  for (let i = 0; i < 50; i++) await tree.put(`k${i}`, `v${i}`)
  await tree.flush()
  await tree.compact()
  await tree.put('x', 'y')
  await tree.flush()
  const tables = (await mem.list(DIR)).filter((n) => n.endsWith('.sst'))
  t.equal(tables.length, 2, `two live tables before close: ${tables.join(', ')}`)
  await tree.close()
  const after = (await mem.list(DIR)).filter((n) => n.endsWith('.sst'))
  t.same(after, tables, 'close() removed no live table')
  const reopened = await caught(async () => {
    const again = await Tree.open(DIR, { ...BASE_OPTIONS, vfs: mem })
    const values = [again.get('k7')?.toString(), again.get('x')?.toString()]
    await again.close()
    return values
  })
  t.equal(reopened, undefined, `reopen after close works: ${describeError(reopened)}`)
})

t.test('a process killed while creating a new tree leaves a directory that opens (regression)', async (t) => {
  // The first Tree.open writes MANIFEST-000001, then CURRENT. A kill in between must not leave
  // a directory that can never be opened again: nothing was acknowledged, so the tree may be
  // created afresh (leveldb NewDB does so when CURRENT is missing).
  const mem = new MemVfs()
  const hook = new HookVfs(mem)
  const fault = new FaultVfs(hook)
  const copies: { label: string; vfs: MemVfs }[] = []
  fault.onOp = (op, path) => {
    if (MUTATING_OPS.has(op)) copies.push({ label: `kill before ${op} ${path}`, vfs: killCopy(mem, hook.knownPaths) })
  }
  const tree = await Tree.open(DIR, { ...BASE_OPTIONS, vfs: fault })
  fault.onOp = undefined
  await tree.close()
  for (const copy of copies) {
    const error = await caught(async () => (await Tree.open(DIR, { ...BASE_OPTIONS, vfs: copy.vfs })).close())
    t.equal(error, undefined, `${copy.label}: ${describeError(error)}`)
  }
})

t.test('power loss right after compact() resolves keeps the compacted data (regression)', async (t) => {
  // compact() logs the edit naming its output tables (manifest synced) without a syncDir of
  // the tree directory after creating them, so the tables' directory entries are not durable
  // when the manifest already refers to them: a power loss then leaves a tree that fails to
  // open with NOT_FOUND. (Flush does syncDir before logging its edit.)
  const mem = new MemVfs()
  const tree = await Tree.open(DIR, { ...BASE_OPTIONS, vfs: mem })
  await tree.put('a', '1')
  await tree.flush()
  await tree.compact()
  const crashed = mem.crashClone()
  await tree.close()
  const reopened = await caught(async () => {
    const again = await Tree.open(DIR, { ...BASE_OPTIONS, vfs: crashed })
    const value = again.get('a')?.toString()
    await again.close()
    if (value !== '1') throw new Error(`a = ${String(value)}`)
  })
  t.equal(reopened, undefined, `reopen after power loss: ${describeError(reopened)}`)
})
