/**
 * NodeVfs: the Vfs on the real file system (leveldb util/env_posix.cc, pebble vfs/default_fs).
 * This is the only engine file that imports node:fs.
 *
 * Invariants:
 * - readAt never returns a short read: it loops on fs.readSync, and a read past the end of the
 *   file is a CORRUPTION naming the file's base name and the offset (the caller trusted a length
 *   or offset that the file does not have).
 * - append loops on fs.writeSync until every byte is written; sync is an fdatasync on the libuv
 *   threadpool (FileHandle.datasync: data and size, not timestamps), so the main thread never
 *   waits on the disk for it.
 * - create unlinks an existing file first, so the handle refers to a NEW inode: a hard link to
 *   the old file (a checkpoint) keeps its bytes (pebble vfs.FS.Create).
 * - Errors: ENOENT => NOT_FOUND, EEXIST => EXISTS, anything else => IO with the system error as
 *   `cause` (its `code`, e.g. 'ENOSPC', stays reachable). Messages name base names only, never
 *   full paths; the system error in `cause` does carry the path, for operators.
 * - A handle used after close() is a programmer error (assertion). close() is idempotent.
 *
 * Locking (Node has no flock): a process-wide Set of held lock paths (resolved absolute) guards
 * against holders in this process; across processes the lock file holds
 *
 *     {"pid":N,"host":"<hostname>","startedAt":"<ISO 8601 time>"}
 *
 * and is created atomically: write `<name>.<pid>.<random>` next to it, then link(2) it to the lock
 * path (link fails with EEXIST when the lock exists), then unlink the temporary name. A lock file
 * whose pid is alive on this host means LOCKED. It is stale (removed, then one retry) when the pid
 * is dead (ESRCH), when it carries our own pid but predates this process, or when it is unreadable
 * garbage older than LOCK_GARBAGE_STALE_MS. A lock from another host is never taken over (we
 * cannot see its processes).
 * PID-reuse caveat: a dead holder's pid may since belong to an unrelated live process (after a
 * reboot, say); the lock then looks held and the operator must remove the lock file after
 * checking. We prefer that to a false "stale": two writers corrupt the tree. A restarted container
 * gets the same small pid again; that case is detected (our own pid, written before we started).
 * No check compares with the boot time: a wall-clock jump would make a live lock look stale.
 * Two processes taking over the same stale lock at the same moment can race between the re-check
 * and the unlink; the window is microseconds and needs a crashed holder.
 */
import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import { assert } from '../base/assert.js'
import { corruption, ErrorCode, StrataError } from '../errors.js'
import type { FileLock, FileStat, ReadableFile, Vfs, WritableFile } from './vfs.js'

/** Garbage in a lock file younger than this may be a writer mid-way (an unsynced file after a
 *  crash is the only way to get garbage, since the content is written before the link). */
export const LOCK_GARBAGE_STALE_MS = 5_000
/** A lock file is a few dozen bytes; refuse to read more from a hostile or broken one. */
const LOCK_FILE_BYTES_MAX = 4096
/** Wall clock vs process uptime disagree by a little; only an older record counts as a previous
 *  process with our pid (a container restart takes far longer than this). */
const PROCESS_START_SLACK_MS = 1_000

/** Maps a system error to a StrataError naming only the base name of `filePath`. */
function systemError(err: unknown, operation: string, filePath: string): StrataError {
  const file = path.basename(filePath)
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  const details = { cause: err, file }
  const { EXISTS, NOT_FOUND } = ErrorCode
  if (code === 'ENOENT') return new StrataError(NOT_FOUND, `${operation}: ${file} does not exist`, details)
  if (code === 'EEXIST') return new StrataError(EXISTS, `${operation}: ${file} already exists`, details)
  return new StrataError(ErrorCode.IO, `${operation} ${file} failed: ${code ?? 'unknown error'}`, details)
}

/** Runs an async fs call and maps its error. */
async function attempt<T>(operation: string, filePath: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    throw systemError(err, operation, filePath)
  }
}

function assertOffsetAndLength(offset: number, length: number): void {
  assert(Number.isSafeInteger(offset) && offset >= 0, 'readAt: offset must be a natural number')
  assert(Number.isSafeInteger(length) && length >= 0, 'readAt: length must be a natural number')
}

/** An open descriptor and how to close it: a FileHandle (async open) or a raw fd (sync open). */
interface Descriptor {
  fd: number
  close(): Promise<void>
}

class NodeReadableFile implements ReadableFile {
  #descriptor: Descriptor | undefined
  readonly #file: string

  /** `sizeBytes` is the size at open: reads beyond it are refused even if the file grew since. */
  constructor(descriptor: Descriptor, readonly sizeBytes: number, filePath: string) {
    this.#descriptor = descriptor
    this.#file = path.basename(filePath)
  }

  readAt(offset: number, length: number): Buffer {
    assertOffsetAndLength(offset, length)
    const out = Buffer.allocUnsafe(length)
    this.readInto(offset, out)
    return out
  }

  readInto(offset: number, target: Uint8Array): void {
    assert(this.#descriptor !== undefined, `readAt on closed file ${this.#file}`)
    const length = target.length
    assertOffsetAndLength(offset, length)
    if (offset + length > this.sizeBytes) {
      throw corruption(`read of ${length} bytes past the end (size ${this.sizeBytes})`, this.#file, offset)
    }
    let doneBytes = 0
    while (doneBytes < length) {
      let readBytes: number
      try {
        readBytes = fs.readSync(this.#descriptor.fd, target, doneBytes, length - doneBytes, offset + doneBytes)
      } catch (err) {
        throw systemError(err, 'read', this.#file)
      }
      if (readBytes === 0) throw corruption('unexpected end of file', this.#file, offset + doneBytes)
      doneBytes += readBytes
    }
    assert(doneBytes === length, 'readAt: short read')
  }

  async close(): Promise<void> {
    const descriptor = this.#descriptor
    if (descriptor === undefined) return
    this.#descriptor = undefined
    await attempt('close', this.#file, () => descriptor.close())
  }
}

class NodeWritableFile implements WritableFile {
  #handle: fs.promises.FileHandle | undefined
  #sizeBytes: number
  readonly #file: string

  constructor(handle: fs.promises.FileHandle, initialSizeBytes: number, filePath: string) {
    this.#handle = handle
    this.#sizeBytes = initialSizeBytes
    this.#file = path.basename(filePath)
  }

  get sizeBytes(): number {
    return this.#sizeBytes
  }

  append(data: Uint8Array): void {
    assert(this.#handle !== undefined, `append on closed file ${this.#file}`)
    assert(data instanceof Uint8Array, 'append: data must be a Uint8Array')
    let doneBytes = 0
    while (doneBytes < data.length) {
      try {
        doneBytes += fs.writeSync(this.#handle.fd, data, doneBytes, data.length - doneBytes)
      } catch (err) {
        this.#sizeBytes += doneBytes
        throw systemError(err, 'append to', this.#file)
      }
    }
    assert(doneBytes === data.length, 'append: short write')
    this.#sizeBytes += doneBytes
  }

  async sync(): Promise<void> {
    const handle = this.#handle
    assert(handle !== undefined, `sync on closed file ${this.#file}`)
    // fdatasync: flushes the data and the metadata needed to read it back (the file's size),
    // not timestamps; what `sync()` promises, and what RocksDB uses (use_fsync = false).
    await attempt('sync', this.#file, () => handle.datasync())
  }

  async close(): Promise<void> {
    const handle = this.#handle
    if (handle === undefined) return
    this.#handle = undefined
    await attempt('close', this.#file, () => handle.close())
  }
}

/** Lock paths held in this process (resolved absolute), shared by every NodeVfs instance.
 *  Module state is per thread: a worker thread that locks must not share a tree with others. */
const heldLockPaths = new Set<string>()

// DO NOT CHANGE: on disk (other processes and other builds read lock files)
interface LockRecord {
  pid: number
  host: string
  startedAt: string
}

function parseLockRecord(text: string): LockRecord | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { pid, host, startedAt } = value as Record<string, unknown>
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return undefined
  if (typeof host !== 'string' || typeof startedAt !== 'string') return undefined
  if (Number.isNaN(Date.parse(startedAt))) return undefined
  return { pid, host, startedAt }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH' // EPERM: alive, owned by another user
  }
}

/** What an existing lock file says: held by a live process (`holder`), stale, or gone. */
type LockState = { kind: 'held'; holder: string } | { kind: 'stale' } | { kind: 'gone' }

async function readLockFile(lockPath: string): Promise<{ text: string; mtimeMs: number } | undefined> {
  let handle: fs.promises.FileHandle
  try {
    handle = await fs.promises.open(lockPath, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw systemError(err, 'read lock', lockPath)
  }
  try {
    const stat = await handle.stat()
    const buffer = Buffer.alloc(Math.min(stat.size, LOCK_FILE_BYTES_MAX))
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
    return { text: buffer.subarray(0, bytesRead).toString('utf8'), mtimeMs: stat.mtimeMs }
  } catch (err) {
    throw systemError(err, 'read lock', lockPath)
  } finally {
    await handle.close().catch(() => undefined)
  }
}

async function inspectLock(lockPath: string): Promise<LockState> {
  const content = await readLockFile(lockPath)
  if (content === undefined) return { kind: 'gone' }
  const record = parseLockRecord(content.text)
  if (record === undefined) {
    const ageMs = Date.now() - content.mtimeMs
    return ageMs > LOCK_GARBAGE_STALE_MS ? { kind: 'stale' } : { kind: 'held', holder: 'an unknown process' }
  }
  if (record.host !== os.hostname()) {
    return { kind: 'held', holder: `process ${record.pid} on host ${record.host}` }
  }
  if (record.pid === process.pid) {
    const writtenAtMs = Date.parse(record.startedAt)
    const startedAtMs = Date.now() - process.uptime() * 1000
    // Written before this process started: an earlier process that had our pid (containers).
    const earlier = writtenAtMs < startedAtMs - PROCESS_START_SLACK_MS
    return earlier ? { kind: 'stale' } : { kind: 'held', holder: 'this process' }
  }
  return isProcessAlive(record.pid) ? { kind: 'held', holder: `process ${record.pid}` } : { kind: 'stale' }
}

/** Links a fresh lock record to `lockPath`; false if a lock file is already there. */
async function tryCreateLockFile(lockPath: string, record: LockRecord): Promise<boolean> {
  const suffix = `${process.pid}.${randomBytes(6).toString('hex')}`
  const tempPath = path.join(path.dirname(lockPath), `${path.basename(lockPath)}.${suffix}`)
  const json = JSON.stringify(record)
  await attempt('lock', lockPath, () => fs.promises.writeFile(tempPath, json, { flag: 'wx' }))
  try {
    await fs.promises.link(tempPath, lockPath)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw systemError(err, 'lock', lockPath)
  } finally {
    await fs.promises.unlink(tempPath).catch(() => undefined)
  }
}

async function acquireLockFile(lockPath: string, record: LockRecord): Promise<void> {
  const file = path.basename(lockPath)
  for (let tries = 0; tries < 2; tries++) {
    if (await tryCreateLockFile(lockPath, record)) return
    const state = await inspectLock(lockPath)
    if (state.kind === 'held') {
      throw new StrataError(ErrorCode.LOCKED, `tree is locked by ${state.holder}`, { file })
    }
    if (state.kind === 'stale') {
      await fs.promises.unlink(lockPath).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw systemError(err, 'remove stale lock', lockPath)
      })
    }
  }
  throw new StrataError(ErrorCode.LOCKED, 'tree is locked (lock file reappeared after removal)', { file })
}

class NodeFileLock implements FileLock {
  #released = false

  constructor(readonly lockPath: string, readonly record: LockRecord) {}

  async release(): Promise<void> {
    if (this.#released) return
    this.#released = true
    try {
      const content = await readLockFile(this.lockPath)
      const onDisk = content === undefined ? undefined : parseLockRecord(content.text)
      // Remove only our own record: never a lock someone else took over.
      if (onDisk?.pid === this.record.pid && onDisk.startedAt === this.record.startedAt) {
        await fs.promises.unlink(this.lockPath).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw systemError(err, 'release lock', this.lockPath)
        })
      }
    } finally {
      heldLockPaths.delete(this.lockPath)
    }
  }
}

export class NodeVfs implements Vfs {
  async create(filePath: string): Promise<WritableFile> {
    await fs.promises.unlink(filePath).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw systemError(err, 'create', filePath)
    })
    const handle = await attempt('create', filePath, () => fs.promises.open(filePath, 'wx'))
    return new NodeWritableFile(handle, 0, filePath)
  }

  async openAppendable(filePath: string): Promise<WritableFile> {
    const flags = fs.constants.O_WRONLY | fs.constants.O_APPEND // no O_CREAT: must exist
    const handle = await attempt('open', filePath, () => fs.promises.open(filePath, flags))
    const stat = await attempt('stat', filePath, () => handle.stat()).catch(async (err: unknown) => {
      await handle.close().catch(() => undefined)
      throw err
    })
    return new NodeWritableFile(handle, stat.size, filePath)
  }

  async openReadable(filePath: string): Promise<ReadableFile> {
    const handle = await attempt('open', filePath, () => fs.promises.open(filePath, 'r'))
    try {
      const stat = await attempt('stat', filePath, () => handle.stat())
      if (stat.isDirectory()) {
        const err = Object.assign(new Error(`EISDIR: is a directory`), { code: 'EISDIR' })
        throw systemError(err, 'open', filePath)
      }
      return new NodeReadableFile({ fd: handle.fd, close: () => handle.close() }, stat.size, filePath)
    } catch (err) {
      await handle.close().catch(() => undefined)
      throw err
    }
  }

  openReadableSync(filePath: string): ReadableFile {
    let fd: number
    try {
      fd = fs.openSync(filePath, 'r')
    } catch (err) {
      throw systemError(err, 'open', filePath)
    }
    try {
      const stat = fs.fstatSync(fd)
      if (stat.isDirectory()) {
        throw systemError(Object.assign(new Error('EISDIR: is a directory'), { code: 'EISDIR' }), 'open', filePath)
      }
      // closeSync is one syscall (~2 µs): cheaper than a threadpool hop, and the fd is free at once.
      return new NodeReadableFile({ fd, close: async () => fs.closeSync(fd) }, stat.size, filePath)
    } catch (err) {
      fs.closeSync(fd)
      throw err instanceof StrataError ? err : systemError(err, 'stat', filePath)
    }
  }

  async rename(from: string, to: string): Promise<void> {
    await attempt('rename', from, () => fs.promises.rename(from, to))
  }

  async link(existing: string, created: string): Promise<void> {
    try {
      await fs.promises.link(existing, created)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      // ENOENT is either path: name the source only if it is the one missing.
      const sourceThere = code === 'ENOENT' && (await this.exists(existing).catch(() => false))
      throw systemError(err, 'link', code === 'EEXIST' || sourceThere ? created : existing)
    }
  }

  async remove(filePath: string): Promise<void> {
    await attempt('remove', filePath, () => fs.promises.unlink(filePath))
  }

  async removeAll(dirPath: string): Promise<void> {
    await attempt('remove', dirPath, () => fs.promises.rm(dirPath, { recursive: true, force: true }))
  }

  async list(dirPath: string): Promise<string[]> {
    const names = await attempt('list', dirPath, () => fs.promises.readdir(dirPath))
    return names.sort()
  }

  async stat(filePath: string): Promise<FileStat> {
    const stat = await attempt('stat', filePath, () => fs.promises.stat(filePath))
    return { sizeBytes: stat.size, isDirectory: stat.isDirectory() }
  }

  async exists(filePath: string): Promise<boolean> {
    try {
      await fs.promises.stat(filePath)
      return true
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') return false
      throw systemError(err, 'stat', filePath)
    }
  }

  async mkdirp(dirPath: string): Promise<void> {
    // A file in the way fails with EEXIST (the last component) or ENOTDIR (a parent).
    await attempt('mkdir', dirPath, () => fs.promises.mkdir(dirPath, { recursive: true }))
  }

  async syncDir(dirPath: string): Promise<void> {
    // Windows cannot open a directory for fsync; NTFS journals directory entries itself.
    if (process.platform === 'win32') return
    const handle = await attempt('open directory', dirPath, () => fs.promises.open(dirPath, 'r'))
    try {
      await attempt('sync directory', dirPath, () => handle.sync())
    } finally {
      await handle.close().catch(() => undefined)
    }
  }

  async lock(lockPath: string): Promise<FileLock> {
    const absolutePath = path.resolve(lockPath)
    if (heldLockPaths.has(absolutePath)) {
      const file = path.basename(lockPath)
      throw new StrataError(ErrorCode.LOCKED, 'tree is locked by this process', { file })
    }
    heldLockPaths.add(absolutePath) // before any await: a concurrent lock() here sees it
    const record = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() }
    try {
      await acquireLockFile(absolutePath, record)
    } catch (err) {
      heldLockPaths.delete(absolutePath)
      throw err
    }
    return new NodeFileLock(absolutePath, record)
  }
}

export const nodeVfs: Vfs = new NodeVfs()
