/**
 * FaultVfs: wraps another Vfs and fails chosen calls, for error-path and crash tests (pebble
 * vfs/errorfs, leveldb fault_injection_test.cc).
 *
 * Invariants:
 * - Every call of a FaultOp is counted (count(op)) and reported to `onOp` before any rule is
 *   checked, including calls that then fail. clear() drops rules, never counts.
 * - An injected failure is a StrataError IO whose `cause` is an Error with `code` = the errno
 *   (default 'EIO'), like NodeVfs; the message names the base name of the path only.
 * - A failing call does not reach the inner Vfs, except an append with `partialAppend`, which
 *   first appends the first half of the data (a torn write), then throws.
 * - Handles returned by the wrapper are wrapped too: append, sync and read (readAt) faults apply
 *   to them, matched against the path the handle was opened with.
 * - For rename and link, a rule's `path` matches either path; onOp receives the source path.
 */
import { posix } from 'node:path'

import { assert } from '../base/assert.js'
import { ErrorCode, StrataError } from '../errors.js'
import type { FileLock, FileStat, ReadableFile, Vfs, WritableFile } from './vfs.js'

export type FaultOp =
  | 'create'
  | 'openReadable'
  | 'openAppendable'
  | 'append'
  | 'sync'
  | 'rename'
  | 'link'
  | 'remove'
  | 'removeAll'
  | 'syncDir'
  | 'read'
  | 'mkdirp'
  | 'list'
  | 'stat'

export type FaultErrno = 'EIO' | 'ENOSPC'

export interface FaultRule {
  op: FaultOp
  /** The nth matching call (1-based, counted from the injection) fails. */
  nth: number
  errno?: FaultErrno
  /** Only calls whose path matches count. */
  path?: RegExp
  /** append only: write the first half of the data to the inner file, then fail. */
  partialAppend?: boolean
}

export type FaultAlwaysRule = Omit<FaultRule, 'nth'>

interface ActiveRule {
  rule: FaultAlwaysRule
  /** undefined: fail every match until clear(). */
  nth: number | undefined
  seen: number
}

const FAULT_OPS: readonly FaultOp[] = [
  'create', 'openReadable', 'openAppendable', 'append', 'sync', 'rename', 'link', 'remove',
  'removeAll', 'syncDir', 'read', 'mkdirp', 'list', 'stat',
]

function injectedError(op: FaultOp, errno: FaultErrno, filePath: string): StrataError {
  const file = posix.basename(filePath)
  const message = `${errno}: injected fault, ${op} '${file}'`
  const cause = Object.assign(new Error(message), { code: errno, syscall: op })
  return new StrataError(ErrorCode.IO, `${op} ${file} failed: ${errno} (injected)`, { cause, file })
}

function checkRule(rule: FaultAlwaysRule): void {
  assert(FAULT_OPS.includes(rule.op), `unknown fault op ${String(rule.op)}`)
  assert(rule.partialAppend !== true || rule.op === 'append', 'partialAppend applies to append only')
  assert(rule.errno === undefined || rule.errno === 'EIO' || rule.errno === 'ENOSPC', 'unknown errno')
}

export class FaultVfs implements Vfs {
  /** Called for every FaultOp call, before rules are checked. */
  onOp?: (op: FaultOp, path: string) => void
  readonly #rules: ActiveRule[] = []
  readonly #counts = new Map<FaultOp, number>()

  constructor(readonly inner: Vfs) {}

  injectNth(rule: FaultRule): void {
    checkRule(rule)
    assert(Number.isSafeInteger(rule.nth) && rule.nth >= 1, 'injectNth: nth is 1-based')
    const { nth, ...rest } = rule
    this.#rules.push({ rule: rest, nth, seen: 0 })
  }

  injectAlways(rule: FaultAlwaysRule): void {
    checkRule(rule)
    assert(!('nth' in rule), 'injectAlways takes no nth')
    this.#rules.push({ rule, nth: undefined, seen: 0 })
  }

  clear(): void {
    this.#rules.length = 0
  }

  /** Calls of `op` seen since construction (failed ones included). */
  count(op: FaultOp): number {
    return this.#counts.get(op) ?? 0
  }

  /**
   * Counts the call and returns the rule that fails it, if any. Every matching nth rule advances;
   * an nth rule is used up when it fires.
   */
  #check(op: FaultOp, paths: readonly string[]): FaultAlwaysRule | undefined {
    assert(paths.length > 0, 'a fault check needs a path')
    this.#counts.set(op, this.count(op) + 1)
    this.onOp?.(op, paths[0] as string)
    let failing: FaultAlwaysRule | undefined
    for (let index = 0; index < this.#rules.length; index++) {
      const active = this.#rules[index] as ActiveRule
      const pattern = active.rule.path
      if (active.rule.op !== op) continue
      if (pattern !== undefined && !paths.some((candidate) => pattern.test(candidate))) continue
      active.seen++
      if (active.nth !== undefined && active.seen !== active.nth) continue
      failing ??= active.rule
      if (active.nth !== undefined) this.#rules.splice(index--, 1)
    }
    return failing
  }

  /** Throws the injected error if a rule fails this call. */
  #fault(op: FaultOp, ...paths: string[]): void {
    const rule = this.#check(op, paths)
    if (rule !== undefined) throw injectedError(op, rule.errno ?? 'EIO', paths[0] as string)
  }

  /** The fault check a wrapped handle uses for its own calls. */
  #checkerFor(filePath: string): HandleChecker {
    return (op) => this.#check(op, [filePath])
  }

  async create(filePath: string): Promise<WritableFile> {
    this.#fault('create', filePath)
    return new FaultWritableFile(await this.inner.create(filePath), filePath, this.#checkerFor(filePath))
  }

  async openAppendable(filePath: string): Promise<WritableFile> {
    this.#fault('openAppendable', filePath)
    const inner = await this.inner.openAppendable(filePath)
    return new FaultWritableFile(inner, filePath, this.#checkerFor(filePath))
  }

  async openReadable(filePath: string): Promise<ReadableFile> {
    this.#fault('openReadable', filePath)
    const inner = await this.inner.openReadable(filePath)
    return new FaultReadableFile(inner, filePath, this.#checkerFor(filePath))
  }

  /** Counts as the same operation as openReadable for injection. */
  openReadableSync(filePath: string): ReadableFile {
    this.#fault('openReadable', filePath)
    return new FaultReadableFile(this.inner.openReadableSync(filePath), filePath, this.#checkerFor(filePath))
  }

  async rename(from: string, to: string): Promise<void> {
    this.#fault('rename', from, to)
    await this.inner.rename(from, to)
  }

  async link(existing: string, created: string): Promise<void> {
    this.#fault('link', existing, created)
    await this.inner.link(existing, created)
  }

  async remove(filePath: string): Promise<void> {
    this.#fault('remove', filePath)
    await this.inner.remove(filePath)
  }

  async removeAll(filePath: string): Promise<void> {
    this.#fault('removeAll', filePath)
    await this.inner.removeAll(filePath)
  }

  async list(dirPath: string): Promise<string[]> {
    this.#fault('list', dirPath)
    return this.inner.list(dirPath)
  }

  async stat(filePath: string): Promise<FileStat> {
    this.#fault('stat', filePath)
    return this.inner.stat(filePath)
  }

  /** Not a FaultOp: passes through. */
  async exists(filePath: string): Promise<boolean> {
    return this.inner.exists(filePath)
  }

  async mkdirp(dirPath: string): Promise<void> {
    this.#fault('mkdirp', dirPath)
    await this.inner.mkdirp(dirPath)
  }

  async syncDir(dirPath: string): Promise<void> {
    this.#fault('syncDir', dirPath)
    await this.inner.syncDir(dirPath)
  }

  /** Not a FaultOp: passes through. */
  async lock(lockPath: string): Promise<FileLock> {
    return this.inner.lock(lockPath)
  }
}

type HandleChecker = (op: 'append' | 'sync' | 'read') => FaultAlwaysRule | undefined

class FaultWritableFile implements WritableFile {
  constructor(readonly inner: WritableFile, readonly path: string, readonly check: HandleChecker) {}

  get sizeBytes(): number {
    return this.inner.sizeBytes
  }

  append(data: Uint8Array): void {
    const rule = this.check('append')
    if (rule === undefined) return this.inner.append(data)
    if (rule.partialAppend === true) {
      const halfBytes = Math.floor(data.length / 2)
      assert(halfBytes < data.length || data.length === 0, 'a torn append writes less than all')
      this.inner.append(data.subarray(0, halfBytes))
    }
    throw injectedError('append', rule.errno ?? 'EIO', this.path)
  }

  async sync(): Promise<void> {
    const rule = this.check('sync')
    if (rule !== undefined) throw injectedError('sync', rule.errno ?? 'EIO', this.path)
    await this.inner.sync()
  }

  async close(): Promise<void> {
    await this.inner.close()
  }
}

class FaultReadableFile implements ReadableFile {
  constructor(readonly inner: ReadableFile, readonly path: string, readonly check: HandleChecker) {}

  get sizeBytes(): number {
    return this.inner.sizeBytes
  }

  readAt(offset: number, length: number): Buffer {
    const rule = this.check('read')
    if (rule !== undefined) throw injectedError('read', rule.errno ?? 'EIO', this.path)
    return this.inner.readAt(offset, length)
  }

  async close(): Promise<void> {
    await this.inner.close()
  }
}
