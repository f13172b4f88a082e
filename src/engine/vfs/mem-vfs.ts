/**
 * MemVfs: an in-memory Vfs that models what survives power loss (leveldb
 * db/fault_injection_test.cc, pebble vfs.NewCrashableMem), for crash tests.
 *
 * Model:
 * - A file is an inode: `data` (every appended byte) and `syncedLength` (the prefix made durable
 *   by WritableFile.sync). Open handles point at the inode, so they keep working after the file
 *   is renamed, replaced or removed, and hard links share it.
 * - A directory has its current `entries` (name -> inode or directory) and its `durable` entries
 *   as of its last syncDir. create, rename, link, remove and removeAll change only `entries`.
 *   A directory made by mkdirp is durable in its parent at once (a simplification that keeps
 *   tests practical; real file systems need the parent's syncDir).
 * - crashClone() builds a new MemVfs from the durable entries only, every file cut to its synced
 *   length (with `tornWrites`, plus a seeded-random prefix of its unsynced bytes). Hard links
 *   stay shared in the clone. The source MemVfs is not changed.
 * - Paths follow POSIX semantics (node:path posix): relative paths resolve against `/`.
 * - Errors mirror NodeVfs: NOT_FOUND, EXISTS, IO with a cause carrying an errno `code`
 *   (EISDIR, ENOTDIR, ENOTEMPTY, EINVAL, EPERM); messages name base names only.
 * - Locks are in memory and per MemVfs instance; a held lock also shows as a file at its path,
 *   as on disk, removed on release. A handle used after close() is an assertion.
 */
import { posix } from 'node:path'

import { assert } from '../base/assert.js'
import { corruption, ErrorCode, StrataError } from '../errors.js'
import type { FileLock, FileStat, ReadableFile, Vfs, WritableFile } from './vfs.js'

const yieldMacrotask = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Growth of an inode's buffer: doubling keeps appends amortised O(1). */
const INODE_INITIAL_CAPACITY_BYTES = 256

class Inode {
  #bytes = Buffer.alloc(0)
  length = 0
  /** Bytes [0, syncedLength) survive power loss. */
  syncedLength = 0

  append(data: Uint8Array): void {
    const needBytes = this.length + data.length
    if (needBytes > this.#bytes.length) {
      let capacityBytes = Math.max(this.#bytes.length * 2, INODE_INITIAL_CAPACITY_BYTES)
      while (capacityBytes < needBytes) capacityBytes *= 2
      const grown = Buffer.alloc(capacityBytes)
      this.#bytes.copy(grown, 0, 0, this.length)
      this.#bytes = grown
    }
    this.#bytes.set(data, this.length)
    this.length = needBytes
    assert(this.syncedLength <= this.length, 'inode: synced beyond its length')
  }

  /** The live bytes (not a copy). */
  view(): Buffer {
    return this.#bytes.subarray(0, this.length)
  }
}

class Directory {
  readonly entries = new Map<string, Node>()
  /** Entries as of the last syncDir: what a crash leaves. */
  durable = new Map<string, Node>()
}

type Node = Inode | Directory

type Errno = 'ENOENT' | 'EEXIST' | 'EISDIR' | 'ENOTDIR' | 'ENOTEMPTY' | 'EINVAL' | 'EPERM'

/** The StrataError NodeVfs would throw for the same system error. */
function fsError(errno: Errno, operation: string, filePath: string): StrataError {
  const file = posix.basename(filePath)
  const cause = Object.assign(new Error(`${errno}: ${operation} '${file}'`), { code: errno, syscall: operation })
  const details = { cause, file }
  const { EXISTS, NOT_FOUND } = ErrorCode
  if (errno === 'ENOENT') return new StrataError(NOT_FOUND, `${operation}: ${file} does not exist`, details)
  if (errno === 'EEXIST') return new StrataError(EXISTS, `${operation}: ${file} already exists`, details)
  return new StrataError(ErrorCode.IO, `${operation} ${file} failed: ${errno}`, details)
}

/** Absolute, normalised path components; `[]` is the root. */
function components(filePath: string): string[] {
  assert(typeof filePath === 'string' && filePath.length > 0, 'path must be a non-empty string')
  return posix.resolve('/', filePath).split('/').filter((part) => part.length > 0)
}

/** A small seeded PRNG (mulberry32): floats in [0, 1). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state)
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296
  }
}

class MemReadableFile implements ReadableFile {
  #inode: Inode | undefined
  readonly #file: string

  /** `sizeBytes` is the size at open, as with NodeVfs. */
  constructor(inode: Inode, readonly sizeBytes: number, filePath: string) {
    this.#inode = inode
    this.#file = posix.basename(filePath)
  }

  readAt(offset: number, length: number): Buffer {
    assert(this.#inode !== undefined, `readAt on closed file ${this.#file}`)
    assert(Number.isSafeInteger(offset) && offset >= 0, 'readAt: offset must be a natural number')
    assert(Number.isSafeInteger(length) && length >= 0, 'readAt: length must be a natural number')
    if (offset + length > this.sizeBytes) {
      throw corruption(`read of ${length} bytes past the end (size ${this.sizeBytes})`, this.#file, offset)
    }
    assert(offset + length <= this.#inode.length, 'inode shrank under an open handle')
    return Buffer.from(this.#inode.view().subarray(offset, offset + length))
  }

  readInto(offset: number, target: Uint8Array): void {
    target.set(this.readAt(offset, target.length))
  }

  async close(): Promise<void> {
    this.#inode = undefined
  }
}

class MemWritableFile implements WritableFile {
  #inode: Inode | undefined
  #sizeBytes: number
  readonly #file: string

  constructor(inode: Inode, filePath: string) {
    this.#inode = inode
    this.#sizeBytes = inode.length
    this.#file = posix.basename(filePath)
  }

  get sizeBytes(): number {
    return this.#sizeBytes
  }

  append(data: Uint8Array): void {
    assert(this.#inode !== undefined, `append on closed file ${this.#file}`)
    assert(data instanceof Uint8Array, 'append: data must be a Uint8Array')
    this.#inode.append(data)
    this.#sizeBytes += data.length
  }

  async sync(): Promise<void> {
    const inode = this.#inode
    assert(inode !== undefined, `sync on closed file ${this.#file}`)
    const length = inode.length
    // A real fsync completes on the threadpool, after other macrotasks had their turn; yield
    // likewise, so a writer loop on MemVfs cannot starve timers and I/O as it never could on disk.
    await yieldMacrotask()
    if (inode.syncedLength < length) inode.syncedLength = length
  }

  async close(): Promise<void> {
    this.#inode = undefined
  }
}

/** Where a path lives: its parent directory, its name there, and what is there now. */
interface Location {
  parent: Directory
  name: string
  node: Node | undefined
}

export interface CrashCloneOptions {
  /** Seeds the torn-write prefixes; the same seed gives the same clone. Default 0. */
  seed?: number
  /** Keep a random prefix of each file's unsynced bytes, as a torn write would. Default false. */
  tornWrites?: boolean
}

export class MemVfs implements Vfs {
  #root = new Directory()
  readonly #heldLocks = new Set<string>()

  /** Walks to `filePath`; undefined if it or a parent is missing, or a parent is a file. */
  #find(filePath: string): Node | undefined {
    let node: Node = this.#root
    for (const part of components(filePath)) {
      if (!(node instanceof Directory)) return undefined
      const child: Node | undefined = node.entries.get(part)
      if (child === undefined) return undefined
      node = child
    }
    return node
  }

  /** The existing node at `filePath`, or throws as the OS would. */
  #node(filePath: string, operation: string): Node {
    const location = components(filePath).length === 0 ? undefined : this.#locate(filePath, operation)
    const node = location === undefined ? this.#root : location.node
    if (node === undefined) throw fsError('ENOENT', operation, filePath)
    return node
  }

  #locate(filePath: string, operation: string): Location {
    const parts = components(filePath)
    assert(parts.length > 0, `${operation}: the root has no parent`)
    let parent: Directory = this.#root
    for (const part of parts.slice(0, -1)) {
      const child = parent.entries.get(part)
      if (child === undefined) throw fsError('ENOENT', operation, filePath)
      if (!(child instanceof Directory)) throw fsError('ENOTDIR', operation, filePath)
      parent = child
    }
    const name = parts[parts.length - 1] as string
    return { parent, name, node: parent.entries.get(name) }
  }

  #inode(filePath: string, operation: string): Inode {
    const node = this.#node(filePath, operation)
    if (node instanceof Directory) throw fsError('EISDIR', operation, filePath)
    return node
  }

  #createInode(filePath: string, operation: string): { inode: Inode; location: Location } {
    const location = this.#locate(filePath, operation)
    if (location.node instanceof Directory) throw fsError('EISDIR', operation, filePath)
    const inode = new Inode()
    location.parent.entries.set(location.name, inode)
    return { inode, location }
  }

  async create(filePath: string): Promise<WritableFile> {
    return new MemWritableFile(this.#createInode(filePath, 'create').inode, filePath)
  }

  async openAppendable(filePath: string): Promise<WritableFile> {
    return new MemWritableFile(this.#inode(filePath, 'open'), filePath)
  }

  async openReadable(filePath: string): Promise<ReadableFile> {
    return this.openReadableSync(filePath)
  }

  openReadableSync(filePath: string): ReadableFile {
    const inode = this.#inode(filePath, 'open')
    return new MemReadableFile(inode, inode.length, filePath)
  }

  async rename(from: string, to: string): Promise<void> {
    const source = this.#locate(from, 'rename')
    if (source.node === undefined) throw fsError('ENOENT', 'rename', from)
    const target = this.#locate(to, 'rename')
    if (source.node === target.node) return // same entry, or two links to one inode: POSIX no-op
    if (source.node instanceof Inode && target.node instanceof Directory) {
      throw fsError('EISDIR', 'rename', to)
    }
    if (source.node instanceof Directory) {
      if (target.node instanceof Inode) throw fsError('ENOTDIR', 'rename', to)
      if ((target.node?.entries.size ?? 0) > 0) throw fsError('ENOTEMPTY', 'rename', to)
      const fromParts = components(from)
      const inside = components(to).slice(0, fromParts.length).join('/') === fromParts.join('/')
      if (inside) throw fsError('EINVAL', 'rename', to)
    }
    target.parent.entries.set(target.name, source.node)
    source.parent.entries.delete(source.name)
  }

  async link(existing: string, created: string): Promise<void> {
    const source = this.#node(existing, 'link')
    if (source instanceof Directory) throw fsError('EPERM', 'link', existing)
    const target = this.#locate(created, 'link')
    if (target.node !== undefined) throw fsError('EEXIST', 'link', created)
    target.parent.entries.set(target.name, source)
  }

  async remove(filePath: string): Promise<void> {
    const location = this.#locate(filePath, 'remove')
    if (location.node === undefined) throw fsError('ENOENT', 'remove', filePath)
    if (location.node instanceof Directory) throw fsError('EISDIR', 'remove', filePath)
    location.parent.entries.delete(location.name)
  }

  async removeAll(filePath: string): Promise<void> {
    const parts = components(filePath)
    assert(parts.length > 0, 'removeAll of the root')
    const parent = this.#find(posix.dirname(posix.resolve('/', filePath)))
    if (parent instanceof Directory) parent.entries.delete(parts[parts.length - 1] as string)
  }

  async list(dirPath: string): Promise<string[]> {
    const node = this.#node(dirPath, 'list')
    if (!(node instanceof Directory)) throw fsError('ENOTDIR', 'list', dirPath)
    return [...node.entries.keys()].sort()
  }

  async stat(filePath: string): Promise<FileStat> {
    const node = this.#node(filePath, 'stat')
    const isDirectory = node instanceof Directory
    return { sizeBytes: isDirectory ? 0 : node.length, isDirectory }
  }

  async exists(filePath: string): Promise<boolean> {
    return this.#find(filePath) !== undefined
  }

  async mkdirp(dirPath: string): Promise<void> {
    this.#mkdirp(dirPath)
  }

  #mkdirp(dirPath: string): Directory {
    const parts = components(dirPath)
    let directory = this.#root
    parts.forEach((part, index) => {
      let child = directory.entries.get(part)
      if (child === undefined) {
        child = new Directory()
        directory.entries.set(part, child)
        directory.durable.set(part, child) // durable at once: see the file comment
      }
      if (child instanceof Inode) {
        throw fsError(index === parts.length - 1 ? 'EEXIST' : 'ENOTDIR', 'mkdir', dirPath)
      }
      directory = child
    })
    return directory
  }

  async syncDir(dirPath: string): Promise<void> {
    await yieldMacrotask()
    const node = this.#node(dirPath, 'sync directory')
    if (!(node instanceof Directory)) throw fsError('ENOTDIR', 'sync directory', dirPath)
    node.durable = new Map(node.entries)
  }

  async lock(lockPath: string): Promise<FileLock> {
    const key = posix.resolve('/', lockPath)
    if (this.#heldLocks.has(key)) {
      throw new StrataError(ErrorCode.LOCKED, 'tree is locked by this process', { file: posix.basename(key) })
    }
    const { inode, location } = this.#createInode(lockPath, 'lock')
    const record = { pid: process.pid, host: 'memvfs', startedAt: new Date().toISOString() }
    inode.append(Buffer.from(JSON.stringify(record)))
    this.#heldLocks.add(key)
    let released = false
    return {
      release: async () => {
        if (released) return
        released = true
        this.#heldLocks.delete(key)
        const { parent, name } = location
        if (parent.entries.get(name) === inode) parent.entries.delete(name)
      },
    }
  }

  /**
   * A possible state after power loss: durable directory entries only, each file cut to its
   * synced length (plus, with `tornWrites`, a seeded-random prefix of its unsynced bytes).
   */
  crashClone(options: CrashCloneOptions = {}): MemVfs {
    const random = seededRandom(options.seed ?? 0)
    const clones = new Map<Inode, Inode>()
    const cloneInode = (inode: Inode): Inode => {
      const known = clones.get(inode)
      if (known !== undefined) return known
      const unsyncedBytes = inode.length - inode.syncedLength
      const tornBytes = options.tornWrites === true ? Math.floor(random() * (unsyncedBytes + 1)) : 0
      assert(tornBytes >= 0 && tornBytes <= unsyncedBytes, 'crashClone: torn prefix out of range')
      const clone = new Inode()
      clone.append(inode.view().subarray(0, inode.syncedLength + tornBytes))
      clone.syncedLength = clone.length
      clones.set(inode, clone)
      return clone
    }
    const cloneDirectory = (directory: Directory): Directory => {
      const clone = new Directory()
      for (const name of [...directory.durable.keys()].sort()) {
        const node = directory.durable.get(name) as Node
        clone.entries.set(name, node instanceof Directory ? cloneDirectory(node) : cloneInode(node))
      }
      clone.durable = new Map(clone.entries)
      return clone
    }
    const crashed = new MemVfs()
    crashed.#root = cloneDirectory(this.#root)
    return crashed
  }

  /** Test helper: xors the byte at `offset` with 0xff in place, as media corruption would. The
   *  change is not a write: it survives crashClone whenever that byte does (offset < synced). */
  flipByte(filePath: string, offset: number): void {
    const inode = this.#inode(filePath, 'flip')
    assert(Number.isSafeInteger(offset) && offset >= 0, 'flipByte: offset must be a natural number')
    assert(offset < inode.length, 'flipByte: offset past the end')
    const bytes = inode.view()
    bytes[offset] = (bytes[offset] as number) ^ 0xff
  }

  /** Test helper: a copy of every byte appended to the file, synced or not. */
  fileData(filePath: string): Buffer {
    return Buffer.from(this.#inode(filePath, 'read').view())
  }

  /** Test helper: the file with `data`, synced, its entry durable (parents made by mkdirp). */
  writeFileSyncedForTest(filePath: string, data: Uint8Array): void {
    const parent = this.#mkdirp(posix.dirname(posix.resolve('/', filePath)))
    const { inode, location } = this.#createInode(filePath, 'create')
    assert(location.parent === parent, 'writeFileSyncedForTest: parent moved')
    inode.append(data)
    inode.syncedLength = inode.length
    parent.durable.set(location.name, inode)
  }
}
