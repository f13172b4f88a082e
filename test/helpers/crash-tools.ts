/**
 * Helpers for the crash, fault-injection and corruption tests (test/engine/crash/,
 * test/engine/corruption/): a deterministic workload of writes with a flat key/value model, a
 * Vfs wrapper that reports the moment a sync returns, and copies of a MemVfs as a killed
 * process would leave it.
 *
 * Model semantics (the public API contract, merge operator 'append'): a write is one op or one
 * batch; a batch's ops apply in order as if one by one; deleteRange removes [start, end); a
 * merge appends its operand to the current value (or starts from nothing). Writes are numbered
 * in issue order, which is seqno order (the commit pipeline assigns seqnos at call time), so
 * "the state after the first p writes" is what a crash may leave, for some p that covers every
 * acknowledged write.
 *
 * Keys are ASCII strings, so JavaScript string order is the engine's bytewise order.
 */
import { posix } from 'node:path'

import { MemVfs, type Tree } from '../../src/engine/index.js'
import type { FileLock, FileStat, ReadableFile, Vfs, WritableFile } from '../../src/engine/index.js'
import { Prng } from './prng.js'

// ---- workload -------------------------------------------------------------------------------

export type PointOp =
  | { type: 'put'; key: string; value: string }
  | { type: 'delete'; key: string }
  | { type: 'deleteRange'; start: string; end: string }
  | { type: 'merge'; key: string; operand: string }

/** One write (one seqno): a single op or a batch ending with a put of its marker key. */
export type Write = PointOp | { type: 'batch'; marker: string; ops: PointOp[] }

/** A step of a workload: writes issued together (concurrently when more than one), or a
 *  maintenance call. */
export type Step = { kind: 'writes'; writes: Write[] } | { kind: 'flush' } | { kind: 'compact' }

/** Key space of the data keys: k000..k(KEY_COUNT-1); batch markers live under m/. */
const KEY_COUNT = 60

export function dataKey(index: number): string {
  return `k${String(index).padStart(3, '0')}`
}

function randomValue(prng: Prng, label: string): string {
  // 10..120 bytes: small memtables rotate every few dozen writes.
  return `${label}:${'abcdefghij'.repeat(12).slice(0, prng.range(10, 120))}`
}

function randomPointOp(prng: Prng, label: string): PointOp {
  const roll = prng.int(100)
  const key = dataKey(prng.int(KEY_COUNT))
  if (roll < 50) return { type: 'put', key, value: randomValue(prng, label) }
  if (roll < 65) return { type: 'delete', key }
  if (roll < 90) return { type: 'merge', key, operand: `+${label}` }
  const first = prng.int(KEY_COUNT)
  return { type: 'deleteRange', start: dataKey(first), end: dataKey(Math.min(KEY_COUNT, first + prng.range(1, 6))) }
}

/**
 * A deterministic workload of about `writeCount` writes: mostly single awaited writes, some
 * bursts of concurrent writes (group commit), batches with markers, `flushes` flushes and one
 * compact() in the middle.
 */
export function buildWorkload(seed: number, writeCount: number): Step[] {
  const prng = new Prng(seed)
  const steps: Step[] = []
  let issued = 0
  let batches = 0
  let compacted = false
  while (issued < writeCount) {
    const burst = prng.bool(0.2) ? prng.range(2, 5) : 1
    const writes: Write[] = []
    for (let i = 0; i < burst; i++) {
      const label = `w${issued}`
      if (prng.bool(0.2)) {
        const ops = Array.from({ length: prng.range(1, 4) }, () => randomPointOp(prng, label))
        const marker = `m/${String(batches++).padStart(4, '0')}`
        writes.push({ type: 'batch', marker, ops: [...ops, { type: 'put', key: marker, value: label }] })
      } else {
        writes.push(randomPointOp(prng, label))
      }
      issued++
    }
    steps.push({ kind: 'writes', writes })
    if (prng.bool(0.03)) steps.push({ kind: 'flush' })
    if (!compacted && issued >= writeCount / 2) {
      steps.push({ kind: 'compact' })
      compacted = true
    }
  }
  return steps
}

export function writesOf(steps: readonly Step[]): Write[] {
  return steps.flatMap((s) => (s.kind === 'writes' ? s.writes : []))
}

// ---- model ----------------------------------------------------------------------------------

export type State = Map<string, string>

function applyPointOp(state: State, op: PointOp): void {
  switch (op.type) {
    case 'put':
      state.set(op.key, op.value)
      return
    case 'delete':
      state.delete(op.key)
      return
    case 'merge':
      state.set(op.key, (state.get(op.key) ?? '') + op.operand)
      return
    case 'deleteRange':
      for (const key of [...state.keys()]) if (key >= op.start && key < op.end) state.delete(key)
  }
}

export function applyWrite(state: State, write: Write): void {
  if (write.type === 'batch') for (const op of write.ops) applyPointOp(state, op)
  else applyPointOp(state, write)
}

/** A canonical text of a state: sorted `key=value` lines. Equal states give equal texts. */
export function stateText(state: State): string {
  return [...state.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')
}

/** texts[p] = the state text after the first p writes, for p = 0..writes.length. */
export function prefixStateTexts(writes: readonly Write[]): string[] {
  const state: State = new Map()
  const texts = [stateText(state)]
  for (const write of writes) {
    applyWrite(state, write)
    texts.push(stateText(state))
  }
  return texts
}

export function stateAfter(writes: readonly Write[], count: number): State {
  const state: State = new Map()
  for (const write of writes.slice(0, count)) applyWrite(state, write)
  return state
}

// ---- running a workload against a tree ------------------------------------------------------

export function issueWrite(tree: Tree, write: Write): Promise<number> {
  switch (write.type) {
    case 'put':
      return tree.put(write.key, write.value)
    case 'delete':
      return tree.delete(write.key)
    case 'merge':
      return tree.merge(write.key, write.operand)
    case 'deleteRange':
      return tree.deleteRange(write.start, write.end)
    case 'batch': {
      const batch = tree.batch()
      for (const op of write.ops) {
        if (op.type === 'put') batch.put(op.key, op.value)
        else if (op.type === 'delete') batch.delete(op.key)
        else if (op.type === 'merge') batch.merge(op.key, op.operand)
        else batch.deleteRange(op.start, op.end)
      }
      return batch.write()
    }
  }
}

/** What the runner knows at any moment: writes issued and acknowledged (both in issue order). */
export class WriteLog {
  issued = 0
  /** Highest acknowledged write index + 1 (acks come in seqno order, so it is a count). */
  acked = 0
  readonly ackedSet = new Set<number>()
  /** Rejections seen, by write index. */
  readonly failures = new Map<number, unknown>()
}

/**
 * Runs `steps` on `tree`, recording issue and ack of every write in `log`. Stops at the first
 * failure (rejected write or maintenance call) and returns it; undefined when all succeeded.
 */
export async function runSteps(tree: Tree, steps: readonly Step[], log: WriteLog): Promise<unknown> {
  for (const step of steps) {
    try {
      if (step.kind === 'flush') await tree.flush()
      else if (step.kind === 'compact') await tree.compact()
      else await Promise.all(step.writes.map((w) => trackWrite(tree, w, log)))
    } catch (error) {
      return error
    }
  }
  return undefined
}

async function trackWrite(tree: Tree, write: Write, log: WriteLog): Promise<void> {
  const index = log.issued++
  try {
    await issueWrite(tree, write)
  } catch (error) {
    log.failures.set(index, error)
    throw error
  }
  log.ackedSet.add(index)
  log.acked = Math.max(log.acked, index + 1)
}

// ---- reading a tree back --------------------------------------------------------------------

/** The tree's whole visible state by a forward scan. */
export function scanState(tree: Tree): State {
  const state: State = new Map()
  for (const [key, value] of tree.iterator().all()) state.set(key.toString('latin1'), value.toString('latin1'))
  return state
}

/** Every key a workload may have written: data keys and the markers of its batches. */
export function keyUniverse(writes: readonly Write[]): string[] {
  const keys = Array.from({ length: KEY_COUNT }, (_, i) => dataKey(i))
  for (const w of writes) if (w.type === 'batch') keys.push(w.marker)
  return keys
}

/** The state by point reads of every key in `keys` (compared with the scan by the callers). */
export function pointState(tree: Tree, keys: readonly string[]): State {
  const state: State = new Map()
  for (const key of keys) {
    const value = tree.get(key)
    if (value !== undefined) state.set(key, value.toString('latin1'))
  }
  return state
}

/**
 * The prefix lengths p in [lowest, highest] whose model state equals `text`, or [] if none.
 * A crash must leave the state after SOME prefix that covers every acknowledged write.
 */
export function matchingPrefixes(texts: readonly string[], text: string, lowest: number, highest: number): number[] {
  const out: number[] = []
  for (let p = lowest; p <= Math.min(highest, texts.length - 1); p++) if (texts[p] === text) out.push(p)
  return out
}

/** A short description of how two states differ, for failure messages. */
export function describeDiff(expected: State, actual: State): string {
  const lines: string[] = []
  for (const [k, v] of expected) if (actual.get(k) !== v) lines.push(`${k}: expected ${JSON.stringify(v)}, got ${JSON.stringify(actual.get(k))}`)
  for (const [k, v] of actual) if (!expected.has(k)) lines.push(`${k}: expected absent, got ${JSON.stringify(v)}`)
  return lines.slice(0, 8).join('; ') + (lines.length > 8 ? ` (+${lines.length - 8} more)` : '')
}

// ---- Vfs tools ------------------------------------------------------------------------------

export type SyncKind = 'sync' | 'syncDir'

/**
 * A pass-through Vfs (meant to wrap a MemVfs, whose calls take effect synchronously) that
 * - calls `afterSync` right after an inner sync (of a file handle) or syncDir returns, before
 *   the caller resumes: the moment to take a crashClone "after the k-th sync point";
 * - records every path a file may exist at (created, opened for append, renamed or linked to,
 *   locked) in `knownPaths`, synchronously at call time, so a copy of the files can be taken
 *   synchronously (killCopy) from inside any hook. It is a superset: killCopy skips paths that
 *   no longer exist.
 */
export class HookVfs implements Vfs {
  afterSync?: (kind: SyncKind, path: string) => void
  readonly knownPaths = new Set<string>()

  constructor(readonly inner: Vfs) {}

  async create(path: string): Promise<WritableFile> {
    this.knownPaths.add(path)
    return this.#wrap(await this.inner.create(path), path)
  }
  async openAppendable(path: string): Promise<WritableFile> {
    this.knownPaths.add(path)
    return this.#wrap(await this.inner.openAppendable(path), path)
  }
  openReadable(path: string): Promise<ReadableFile> {
    return this.inner.openReadable(path)
  }
  openReadableSync(path: string): ReadableFile {
    return this.inner.openReadableSync(path)
  }
  rename(from: string, to: string): Promise<void> {
    const done = this.inner.rename(from, to) // MemVfs applies it synchronously, at the call
    this.knownPaths.add(to)
    this.knownPaths.delete(from)
    return done
  }
  link(existing: string, created: string): Promise<void> {
    this.knownPaths.add(created)
    return this.inner.link(existing, created)
  }
  remove(path: string): Promise<void> {
    const done = this.inner.remove(path)
    this.knownPaths.delete(path)
    return done
  }
  removeAll(path: string): Promise<void> {
    return this.inner.removeAll(path)
  }
  list(dir: string): Promise<string[]> {
    return this.inner.list(dir)
  }
  stat(path: string): Promise<FileStat> {
    return this.inner.stat(path)
  }
  exists(path: string): Promise<boolean> {
    return this.inner.exists(path)
  }
  mkdirp(dir: string): Promise<void> {
    return this.inner.mkdirp(dir)
  }
  async syncDir(dir: string): Promise<void> {
    await this.inner.syncDir(dir)
    this.afterSync?.('syncDir', dir)
  }
  lock(path: string): Promise<FileLock> {
    this.knownPaths.add(path)
    return this.inner.lock(path)
  }

  #wrap(file: WritableFile, path: string): WritableFile {
    const hook = (): void => this.afterSync?.('sync', path)
    return {
      get sizeBytes() {
        return file.sizeBytes
      },
      append: (data: Uint8Array) => file.append(data),
      sync: async () => {
        await file.sync()
        hook()
      },
      close: () => file.close(),
    }
  }
}

/**
 * Synchronous copy of what a killed process leaves (kill -9, no power loss): every file of
 * `paths` that exists in `source` now, with every appended byte, synced or not. No lock held.
 */
export function killCopy(source: MemVfs, paths: Iterable<string>): MemVfs {
  const copy = new MemVfs()
  for (const path of paths) {
    let data: Buffer
    try {
      data = source.fileData(path)
    } catch {
      continue // removed or renamed away since
    }
    copy.writeFileSyncedForTest(path, data)
  }
  return copy
}

/** Paths of every file under `dir` (recursively) in `vfs`, sorted. */
export async function listFilesDeep(vfs: Vfs, dir: string): Promise<string[]> {
  const out: string[] = []
  for (const name of await vfs.list(dir)) {
    const path = posix.join(dir, name)
    if ((await vfs.stat(path)).isDirectory) out.push(...(await listFilesDeep(vfs, path)))
    else out.push(path)
  }
  return out.sort()
}

/**
 * What a killed process leaves (kill -9, no power loss): every directory entry as it is now and
 * every appended byte, synced or not; no lock is held. `transform` may rewrite a file's bytes
 * (truncate a WAL, say) or drop the file (return undefined).
 */
export async function processCrashCopy(
  source: MemVfs,
  dir: string,
  transform?: (path: string, data: Buffer) => Buffer | undefined,
): Promise<MemVfs> {
  const copy = new MemVfs()
  await copy.mkdirp(dir)
  for (const path of await listFilesDeep(source, dir)) {
    const data = source.fileData(path)
    const kept = transform === undefined ? data : transform(path, data)
    if (kept !== undefined) copy.writeFileSyncedForTest(path, kept)
  }
  return copy
}

/** Runs `fn` and returns what it threw, or undefined if it did not throw. */
export async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn()
    return undefined
  } catch (error) {
    return error
  }
}

/** A one-line description of an error for test messages. */
export function describeError(error: unknown): string {
  if (error === undefined) return 'no error'
  if (error instanceof Error) {
    const fields = error as Error & { code?: unknown; file?: unknown; offset?: unknown }
    return `${error.name} ${String(fields.code ?? '')} file=${String(fields.file)} offset=${String(fields.offset)}: ${error.message}`
  }
  return String(error)
}

// ---- kill -9 child protocol (test/fixtures/crash-writer.ts <-> kill9.test.ts) -------------------

/** The value the crash writer puts at `key`: derived from the key, so the parent can check it.
 *  20..275 bytes, so a few hundred writes fill a small memtable. */
export function crashWriterValue(key: string): string {
  let hash = 2166136261
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 16777619) >>> 0
  return `val:${key}:${'0123456789abcdef'.repeat(16).slice(0, 20 + (hash % 256))}`
}

/** The keys of batch `id` of the crash writer: BATCH_PUTS puts, then the marker. */
export const CRASH_WRITER_BATCH_PUTS = 3
export function crashWriterBatchKeys(id: string): string[] {
  return [...Array.from({ length: CRASH_WRITER_BATCH_PUTS }, (_, j) => `${id}/b${j}`), `${id}/m`]
}
