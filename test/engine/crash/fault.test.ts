/**
 * Fault injection (pebble vfs/errorfs, leveldb fault_injection_test.cc): a FaultVfs over a
 * MemVfs fails the Nth append / sync / create / rename / syncDir with EIO or ENOSPC while the
 * tree writes, flushes, compacts or opens. For every N that the phase reaches (measured by a
 * dry run, so every injected position is exercised):
 * - every rejection is a StrataError IO (whose cause chain carries the errno) or READ_ONLY
 *   (a write after a background failure, carrying that failure);
 * - an injected failure never disappears: the phase rejects or stats().backgroundError names
 *   it; a tree that reports no background error still takes durable writes;
 * - reads keep working and show exactly the acknowledged writes;
 * - close() works; the lock is released;
 * - a reopen with the fault cleared (and a power-loss clone taken right after the failure)
 *   recovers every acknowledged write: the state is the model after a prefix of the issued
 *   writes that covers every acknowledged one.
 *
 *   STRATA_SEED=<n> replays; STRATA_TEST_SCALE>1 injects both errnos at every position.
 */
import t, { type Test } from 'tap'

import { FaultVfs, MemVfs, StrataError, Tree, type TreeOptions } from '../../../src/engine/index.js'
import {
  WriteLog,
  buildWorkload,
  caught,
  describeDiff,
  describeError,
  keyUniverse,
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
/** Small memtables and tables: rotations, flushes and multi-table compactions within a few
 *  dozen writes. 1 KiB blocks keep the number of append positions (each one a trial) modest. */
const OPTIONS: TreeOptions = { sync: 'always', mergeOperator: 'append', memtableBytes: 4096, blockBytes: 1024, tableBytes: 4096 }
const FAULT_OPS = ['append', 'sync', 'create', 'rename', 'syncDir'] as const
type InjectedOp = (typeof FAULT_OPS)[number]
type Errno = 'EIO' | 'ENOSPC'
const PHASES = ['writes', 'flush', 'compact', 'open'] as const
type Phase = (typeof PHASES)[number]
/** Positions tried per (phase, op) at CI size: enough to reach every call of these phases. */
const POSITIONS_MAX = 150

interface Scenario {
  /** Steps run before the fault is armed. */
  setup: Step[]
  /** Steps run with the fault armed ('writes' phase), else empty. */
  armed: Step[]
}

function onlyWrites(seed: number, count: number): Step[] {
  return buildWorkload(seed, count).filter((s) => s.kind === 'writes')
}

function scenario(phase: Phase, seed: number): Scenario {
  switch (phase) {
    case 'writes':
      return { setup: onlyWrites(seed, 6), armed: onlyWrites(seed + 1, 45) }
    case 'flush':
      return { setup: onlyWrites(seed, 30), armed: [] }
    case 'compact': {
      const setup: Step[] = []
      for (let i = 0; i < 3; i++) setup.push(...onlyWrites(seed + i, 12), { kind: 'flush' })
      return { setup: [...setup, ...onlyWrites(seed + 9, 8)], armed: [] }
    }
    case 'open':
      return { setup: onlyWrites(seed, 40), armed: [] }
  }
}

/** The errno carried by an error or anything in its cause chain. */
function rootErrno(error: unknown): string | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 10 && current !== undefined && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (code === 'EIO' || code === 'ENOSPC') return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

interface Trial {
  phase: Phase
  op: InjectedOp
  nth: number | undefined
  errno: Errno
  partialAppend: boolean
}

interface Outcome {
  mem: MemVfs
  writes: Write[]
  log: WriteLog
  /** Calls of the injected op during the armed phase. */
  calls: number
  /** Rejections of maintenance calls and of open during the armed phase. */
  phaseErrors: unknown[]
  /** A power-loss clone taken right after the phase. */
  powerLoss: MemVfs
  /** How the failure surfaced: 'rejected', 'degraded' (backgroundError only), 'none'. */
  surfaced: string
}

function label(trial: Trial): string {
  const where = trial.nth === undefined ? 'dry run' : `#${trial.nth}`
  return `${trial.phase}: ${trial.op} ${where} ${trial.errno}${trial.partialAppend ? ' partial' : ''}`
}

/** Runs one trial up to the end of the armed phase and checks the tree while it is open. */
async function runTrial(t: Test, trial: Trial, seed: number): Promise<Outcome> {
  const mem = new MemVfs()
  const fault = new FaultVfs(mem)
  const { setup, armed } = scenario(trial.phase, seed)
  const writes = writesOf([...setup, ...armed])
  const log = new WriteLog()
  const phaseErrors: unknown[] = []
  let tree: Tree | undefined = await Tree.open(DIR, { ...OPTIONS, vfs: fault })
  const setupFailure = await runSteps(tree, setup, log)
  if (setupFailure !== undefined) throw setupFailure
  if (trial.phase === 'open') await tree.close()
  const before = fault.count(trial.op)
  if (trial.nth !== undefined) {
    fault.injectNth({ op: trial.op, nth: trial.nth, errno: trial.errno, ...(trial.partialAppend ? { partialAppend: true } : {}) })
  }
  if (trial.phase === 'open') {
    tree = await Tree.open(DIR, { ...OPTIONS, vfs: fault }).catch((error: unknown) => {
      phaseErrors.push(error)
      return undefined
    })
  } else {
    const failure = await runSteps(tree, armed, log)
    if (failure !== undefined && !log.failures.size) phaseErrors.push(failure)
    const maintenance = trial.phase === 'compact' ? () => tree!.compact() : () => tree!.flush()
    const error = await caught(maintenance)
    if (error !== undefined) phaseErrors.push(error)
  }
  const calls = fault.count(trial.op) - before
  const powerLoss = mem.crashClone({ seed })
  const rejected = log.failures.size + phaseErrors.length > 0
  const degraded = tree !== undefined && tree.stats().backgroundError !== null
  const surfaced = rejected ? (degraded ? 'rejected+degraded' : 'rejected') : degraded ? 'degraded' : 'none'
  if (tree !== undefined) {
    checkOpenTree(t, trial, tree, writes, log, calls, phaseErrors)
    const closeError = await caught(() => tree!.close())
    t.equal(closeError, undefined, `${label(trial)}: close() works after the failure: ${describeError(closeError)}`)
  }
  fault.clear()
  return { mem, writes, log, calls, phaseErrors, powerLoss, surfaced }
}

/** The error contract and the read path of a tree that has just seen the injected failure. */
function checkOpenTree(t: Test, trial: Trial, tree: Tree, writes: readonly Write[], log: WriteLog, calls: number, phaseErrors: unknown[]): void {
  const name = label(trial)
  const fired = trial.nth !== undefined && calls >= trial.nth
  const rejections = [...log.failures.values(), ...phaseErrors]
  for (const error of rejections) {
    const ok = error instanceof StrataError && (error.code === 'IO' || error.code === 'READ_ONLY') && rootErrno(error) === trial.errno
    if (!ok) t.fail(`${name}: a rejection is not IO/READ_ONLY carrying ${trial.errno}: ${describeError(error)}`)
  }
  if (!fired && rejections.length > 0) t.fail(`${name}: rejections without an injected fault: ${describeError(rejections[0])}`)
  const background = tree.stats().backgroundError
  if (fired && rejections.length === 0 && background === null) t.fail(`${name}: the injected failure vanished (no rejection, no backgroundError)`)
  if (background !== null) {
    if (background.code !== 'IO' || !background.message.includes(trial.errno)) t.fail(`${name}: backgroundError does not name the cause: ${JSON.stringify(background)}`)
  }
  const acked = [...log.ackedSet].sort((a, b) => a - b)
  if (acked.some((index, i) => index !== i)) t.fail(`${name}: acknowledged writes are not a prefix: ${acked.join(',')}`)
  const expected = stateAfter(writes, log.acked)
  const scanned = scanState(tree)
  if (stateText(scanned) !== stateText(expected)) t.fail(`${name}: scan after the failure: ${describeDiff(expected, scanned)}`)
  const points = pointState(tree, keyUniverse(writes))
  if (stateText(points) !== stateText(expected)) t.fail(`${name}: point reads after the failure: ${describeDiff(expected, points)}`)
}

/** After a degraded tree: later writes are READ_ONLY. A tree without backgroundError takes writes. */
async function checkWritability(t: Test, trial: Trial, tree: Tree): Promise<boolean> {
  const name = label(trial)
  const background = tree.stats().backgroundError
  const error = await caught(() => tree.put('zz/probe', 'probe'))
  if (background !== null) {
    if (!(error instanceof StrataError && error.code === 'READ_ONLY' && rootErrno(error) === trial.errno)) {
      t.fail(`${name}: a write after a background failure is not READ_ONLY carrying ${trial.errno}: ${describeError(error)}`)
    }
    return false
  }
  if (error !== undefined) t.fail(`${name}: a tree without backgroundError rejects a write: ${describeError(error)}`)
  return error === undefined
}

/** Reopens `vfs` and checks the state is a prefix of the writes covering the acknowledged ones. */
async function checkRecovery(t: Test, trial: Trial, vfs: MemVfs, outcome: Outcome, how: string): Promise<void> {
  const name = `${label(trial)}, ${how}`
  const opened = await Tree.open(DIR, { ...OPTIONS, vfs }).catch((error: unknown) => error)
  if (!(opened instanceof Tree)) {
    t.fail(`${name}: reopen failed: ${describeError(opened)}`)
    return
  }
  try {
    const state = scanState(opened)
    const texts = prefixStateTexts(outcome.writes)
    const prefixes = matchingPrefixes(texts, stateText(state), outcome.log.acked, outcome.log.issued)
    if (prefixes.length === 0) {
      t.fail(`${name}: not a prefix covering the ${outcome.log.acked} acked writes: ${describeDiff(stateAfter(outcome.writes, outcome.log.acked), state)}`)
    }
  } finally {
    await opened.close()
  }
}

async function trialAndChecks(t: Test, trial: Trial, seed: number, tally?: Map<string, number>): Promise<number> {
  const outcome = await runTrial(t, trial, seed)
  await checkRecovery(t, trial, outcome.powerLoss, outcome, 'power loss right after the failure')
  await checkRecovery(t, trial, outcome.mem, outcome, 'reopen with the fault cleared')
  tally?.set(outcome.surfaced, (tally.get(outcome.surfaced) ?? 0) + 1)
  return outcome.calls
}

t.test('writability after a failure: READ_ONLY when degraded, durable writes when not', async (t) => {
  const seed = testSeed()
  for (const phase of ['writes', 'flush', 'compact'] as const) {
    for (const op of FAULT_OPS.filter((o) => o !== 'rename')) {
      for (let nth = 1; nth <= 3; nth++) {
        const trial: Trial = { phase, op, nth, errno: 'ENOSPC', partialAppend: false }
        const mem = new MemVfs()
        const fault = new FaultVfs(mem)
        const { setup, armed } = scenario(phase, seed)
        const tree = await Tree.open(DIR, { ...OPTIONS, vfs: fault })
        await runSteps(tree, setup, new WriteLog())
        fault.injectNth({ op, nth, errno: 'ENOSPC' })
        await runSteps(tree, armed, new WriteLog())
        await caught(() => (phase === 'compact' ? tree.compact() : tree.flush()))
        fault.clear()
        const writable = await checkWritability(t, trial, tree)
        await tree.close()
        if (writable) {
          const reopened = await Tree.open(DIR, { ...OPTIONS, vfs: mem.crashClone() })
          t.equal(reopened.get('zz/probe')?.toString(), 'probe', `${label(trial)}: a write acknowledged after a survived failure is durable`)
          await reopened.close()
        }
      }
    }
  }
})

for (const phase of PHASES) {
  t.test(`faults during ${phase}: every position of every op`, async (t) => {
    const seed = testSeed()
    t.comment(`seed ${seed} (STRATA_SEED=${seed} replays)`)
    const bothErrnos = testScale() > 1
    const tally = new Map<string, number>()
    for (const op of FAULT_OPS) {
      const dry = await trialAndChecks(t, { phase, op, nth: undefined, errno: 'EIO', partialAppend: false }, seed)
      const positions = Math.min(dry, Math.round(POSITIONS_MAX * testScale()))
      t.comment(`${phase}: ${dry} ${op} calls, injecting at 1..${positions}`)
      for (let nth = 1; nth <= positions; nth++) {
        const errnos: Errno[] = bothErrnos ? ['EIO', 'ENOSPC'] : [nth % 2 === 1 ? 'EIO' : 'ENOSPC']
        for (const errno of errnos) {
          const partialAppend = op === 'append' && nth % 3 === 0
          await trialAndChecks(t, { phase, op, nth, errno, partialAppend }, seed, tally)
        }
      }
    }
    t.comment(`${phase}: how the injected failures surfaced: ${JSON.stringify(Object.fromEntries(tally))}`)
    t.notOk(tally.has('none'), `${phase}: every injected failure surfaced (as a rejection or a backgroundError)`)
    t.ok((tally.get('rejected') ?? 0) + (tally.get('rejected+degraded') ?? 0) > 0, `${phase}: the armed calls rejected`)
  })
}

t.test('a failed open releases the lock and leaves the tree openable', async (t) => {
  const mem = new MemVfs()
  const fault = new FaultVfs(mem)
  const first = await Tree.open(DIR, { ...OPTIONS, vfs: fault })
  await first.put('a', '1')
  await first.close()
  fault.injectAlways({ op: 'syncDir', errno: 'EIO' })
  const error = await caught(() => Tree.open(DIR, { ...OPTIONS, vfs: fault }))
  t.match(error, { code: 'IO' }, 'open fails with IO while syncDir fails')
  t.equal(rootErrno(error), 'EIO')
  fault.clear()
  const reopened = await Tree.open(DIR, { ...OPTIONS, vfs: fault })
  t.equal(reopened.get('a')?.toString(), '1', 'the acknowledged write survived the failed open')
  await reopened.close()
})
