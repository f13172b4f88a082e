/**
 * Catalog: the trees under one data directory. Every sub-directory whose name is a valid tree
 * name is a tree, opened with the options persisted in it; trees are created and dropped here.
 *
 * Data directory layout:
 *
 *     <dataDir>/
 *       .lock                     the catalog's lock: one process serves a data directory
 *       <name>/                   a tree: OPTIONS.json + the engine's files (CURRENT, MANIFEST-*, ...)
 *       .staging-<hex>/           a tree being created (crash leftovers are ignored)
 *       .restoring-<hex>/         a tree being restored (src/backup; removed at the next open)
 *       .dropped-<hex>/           a tree being removed (removed at the next open)
 *       .checkpoints/<name>/      named checkpoints of tree <name> (src/backup); removed with the tree
 *
 * OPTIONS.json (UTF-8 JSON, at most OPTIONS_FILE_BYTES_MAX bytes):
 *
 *     {"formatVersion":1,"options":{"mergeOperator":"counter","compression":"zstd",
 *                                   "sync":"always","filterBitsPerKey":10}}
 *
 *     formatVersion  integer; a version this build does not know is UNSUPPORTED
 *     options        only the options given at creation; each optional:
 *       mergeOperator     'counter' | 'append' | 'max'   (fixed for the tree's life)
 *       compression       'none' | 'zstd'                (for new tables)
 *       sync              'always' | 'none'              (absent: the catalog's default)
 *       filterBitsPerKey  integer 0..32
 *     An option name this build does not know is UNSUPPORTED (a newer build wrote it); a known
 *     option with a bad value is CORRUPTION naming OPTIONS.json.
 *
 * Invariants:
 * - A tree directory never exists half-made: create writes OPTIONS.json (atomically, fsynced)
 *   into `.staging-<hex>/`, renames it to `<name>` and fsyncs the data directory, and only then
 *   opens the tree (whose engine gives it a fresh treeId).
 * - Drop closes the tree, renames its directory to `.dropped-<hex>` (fsynced) and then removes
 *   it: a crash mid-remove leaves no half tree under the name, only a `.dropped-*` directory
 *   that the next open removes.
 * - Names that are not valid tree names (including every dot-name) are never opened as trees.
 * - One create or drop at a time per name: a second one sees EXISTS / NOT_FOUND.
 * - A tree that fails to open (corruption, wrong options, locked) does not stop the others: it
 *   is listed in failures() and can be dropped.
 */
import { randomBytes } from 'node:crypto'

import { assert } from './base/assert.js'
import { StrataError, ErrorCode, corruption, invalidArgument, isStrataError } from './errors.js'
import type { CompressionName, SyncPolicy, TreeOptions } from './options.js'
import type { ReplicationOptions } from './replicas/options.js'
import { Tree } from './tree.js'
import { readWholeFile, writeFileAtomic } from './vfs/atomic.js'
import { nodeVfs } from './vfs/node-vfs.js'
import type { FileLock, Vfs } from './vfs/vfs.js'

/** API.md: tree names. The first character is never a dot, so dot-names stay the catalog's. */
export const TREE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
/** The per-tree options file, next to the engine's files. */
export const TREE_OPTIONS_FILE_NAME = 'OPTIONS.json'
/** DO NOT CHANGE: on disk. The OPTIONS.json format this build writes and reads. */
export const TREE_OPTIONS_FORMAT_VERSION = 1
/** OPTIONS.json holds a handful of fields; anything bigger is not ours. */
export const TREE_OPTIONS_FILE_BYTES_MAX = 64 * 1024
/** Each open tree holds a memtable, WAL and table handles: bound how many one catalog opens. */
export const CATALOG_TREES_MAX = 1024
/** Directory name prefixes the catalog owns (never valid tree names: they start with a dot). */
export const STAGING_PREFIX = '.staging-'
export const DROPPED_PREFIX = '.dropped-'
/** A restore unpacks into `.restoring-<hex>` under the data directory before its rename. */
export const RESTORING_PREFIX = '.restoring-'
/** Named checkpoints live under `<dataDir>/.checkpoints/<tree>/` (src/backup owns what is inside). */
export const CHECKPOINTS_DIR_NAME = '.checkpoints'
const LOCK_NAME = '.lock'

export const MERGE_OPERATOR_NAMES = ['counter', 'append', 'max'] as const
export type MergeOperatorName = (typeof MERGE_OPERATOR_NAMES)[number]
const COMPRESSION_NAMES: readonly CompressionName[] = ['none', 'zstd']
const SYNC_POLICIES: readonly SyncPolicy[] = ['always', 'none']
const FILTER_BITS_PER_KEY_MAX = 32

/** The options a catalog tree is created with; persisted in OPTIONS.json. */
export interface CatalogTreeOptions {
  mergeOperator?: MergeOperatorName
  compression?: CompressionName
  sync?: SyncPolicy
  filterBitsPerKey?: number
}
const OPTION_NAMES: readonly (keyof CatalogTreeOptions)[] = ['mergeOperator', 'compression', 'sync', 'filterBitsPerKey']

/** Engine options every tree of the catalog gets unless its OPTIONS.json says otherwise. Not persisted. */
export interface CatalogDefaults {
  sync?: SyncPolicy
  memtableBytes?: number
  blockBytes?: number
  tableBytes?: number
  blockCacheBytes?: number
  /** Leader replication history and leases (replicas/options.ts); never follower mode here. */
  replication?: Omit<ReplicationOptions, 'follower'>
}

export interface CatalogOpenOptions {
  defaults?: CatalogDefaults
  vfs?: Vfs
}

export interface CatalogEntry {
  name: string
  tree: Tree
  /** The options the tree was created with (as persisted). */
  options: CatalogTreeOptions
}

export interface CatalogFailure {
  name: string
  /** Why the tree could not be opened: a StrataError (CORRUPTION, LOCKED, ...). */
  error: StrataError
}

export function isValidTreeName(name: string): boolean {
  return typeof name === 'string' && TREE_NAME_PATTERN.test(name)
}

/** Checks the options of a new tree; throws INVALID_ARGUMENT naming the bad option. */
export function validateCatalogTreeOptions(input: unknown): CatalogTreeOptions {
  if (input === undefined) return {}
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalidArgument('tree options must be an object')
  const problem = optionsProblem(input as Record<string, unknown>)
  if (problem !== undefined) throw invalidArgument(problem.message)
  return pickOptions(input as Record<string, unknown>)
}

/** The first thing wrong with `o`: an unknown name or a bad value; undefined when it is valid. */
function optionsProblem(o: Record<string, unknown>): { unknownName: boolean; message: string } | undefined {
  for (const name of Object.keys(o)) {
    if (!(OPTION_NAMES as readonly string[]).includes(name)) return { unknownName: true, message: `unknown tree option '${name}'` }
  }
  const bad = (message: string) => ({ unknownName: false, message })
  if (o['mergeOperator'] !== undefined && !(MERGE_OPERATOR_NAMES as readonly unknown[]).includes(o['mergeOperator'])) {
    return bad(`option mergeOperator must be one of ${MERGE_OPERATOR_NAMES.join(', ')}`)
  }
  if (o['compression'] !== undefined && !(COMPRESSION_NAMES as readonly unknown[]).includes(o['compression'])) {
    return bad(`option compression must be one of ${COMPRESSION_NAMES.join(', ')}`)
  }
  if (o['sync'] !== undefined && !(SYNC_POLICIES as readonly unknown[]).includes(o['sync'])) {
    return bad(`option sync must be one of ${SYNC_POLICIES.join(', ')}`)
  }
  const bits = o['filterBitsPerKey']
  if (bits !== undefined && (typeof bits !== 'number' || !Number.isInteger(bits) || bits < 0 || bits > FILTER_BITS_PER_KEY_MAX)) {
    return bad(`option filterBitsPerKey must be an integer in [0, ${FILTER_BITS_PER_KEY_MAX}]`)
  }
  return undefined
}

/** A fresh object with only the defined, known options (in a fixed order: stable files). */
function pickOptions(o: Record<string, unknown>): CatalogTreeOptions {
  const out: Record<string, unknown> = {}
  for (const name of OPTION_NAMES) if (o[name] !== undefined) out[name] = o[name]
  return out as CatalogTreeOptions
}

/** OPTIONS.json bytes for `options` (see the file comment). */
export function encodeTreeOptionsFile(options: CatalogTreeOptions): Buffer {
  assert(optionsProblem(options as Record<string, unknown>) === undefined, 'encoding invalid tree options')
  const data = Buffer.from(JSON.stringify({ formatVersion: TREE_OPTIONS_FORMAT_VERSION, options: pickOptions(options as Record<string, unknown>) }))
  assert(data.length <= TREE_OPTIONS_FILE_BYTES_MAX, 'OPTIONS.json within its bound')
  return data
}

/** Parses OPTIONS.json; CORRUPTION (naming the file) or UNSUPPORTED on anything unexpected. */
export function decodeTreeOptionsFile(data: Uint8Array): CatalogTreeOptions {
  const file = TREE_OPTIONS_FILE_NAME
  if (data.length > TREE_OPTIONS_FILE_BYTES_MAX) throw corruption(`larger than ${TREE_OPTIONS_FILE_BYTES_MAX} bytes`, file, 0)
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'))
  } catch {
    throw corruption('not valid JSON', file, 0)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw corruption('not a JSON object', file, 0)
  const { formatVersion, options } = parsed as Record<string, unknown>
  if (typeof formatVersion !== 'number' || !Number.isInteger(formatVersion)) throw corruption('formatVersion is not an integer', file, 0)
  if (formatVersion !== TREE_OPTIONS_FORMAT_VERSION) {
    throw new StrataError(ErrorCode.UNSUPPORTED, `${file} has format version ${formatVersion}; this build reads ${TREE_OPTIONS_FORMAT_VERSION}`, { file })
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw corruption('options is not an object', file, 0)
  const problem = optionsProblem(options as Record<string, unknown>)
  if (problem?.unknownName === true) throw new StrataError(ErrorCode.UNSUPPORTED, `${file}: ${problem.message} (written by a newer build?)`, { file })
  if (problem !== undefined) throw corruption(problem.message, file, 0)
  const result = pickOptions(options as Record<string, unknown>)
  assert(optionsProblem(result as Record<string, unknown>) === undefined, 'decoded options are valid')
  return result
}

interface OpenTree {
  tree: Tree
  options: CatalogTreeOptions
}

export class Catalog {
  private readonly trees = new Map<string, OpenTree>()
  private readonly failed = new Map<string, StrataError>()
  /** Names with a create or drop in progress, and the operation's promise. */
  private readonly pending = new Map<string, Promise<unknown>>()
  private closed = false

  private constructor(
    readonly dataDir: string,
    private readonly vfs: Vfs,
    private readonly defaults: CatalogDefaults,
    private readonly lock: FileLock,
  ) {}

  /** Opens every tree under `dataDir` (created if missing). Throws LOCKED if another catalog holds it. */
  static async open(dataDir: string, options: CatalogOpenOptions = {}): Promise<Catalog> {
    assert(typeof dataDir === 'string' && dataDir.length > 0, 'Catalog.open needs a data directory')
    const vfs = options.vfs ?? nodeVfs
    await vfs.mkdirp(dataDir)
    const lock = await vfs.lock(`${dataDir}/${LOCK_NAME}`)
    const catalog = new Catalog(dataDir, vfs, { ...options.defaults }, lock)
    try {
      await catalog.openAll()
    } catch (error) {
      await catalog.close().catch(() => undefined)
      throw error
    }
    return catalog
  }

  private async openAll(): Promise<void> {
    const names = await this.vfs.list(this.dataDir)
    const opens: Promise<void>[] = []
    for (const name of names) {
      const path = `${this.dataDir}/${name}`
      if (name.startsWith(DROPPED_PREFIX) || name.startsWith(RESTORING_PREFIX)) {
        // Left by a drop that crashed after its rename, or a restore that crashed before its
        // rename (the lock we hold says no one else uses it); failing again is retried next open.
        await this.vfs.removeAll(path).catch(() => undefined)
        continue
      }
      if (!isValidTreeName(name)) continue
      if (!(await this.vfs.stat(path)).isDirectory) continue
      opens.push(this.openExisting(name))
    }
    // allSettled: every open has finished (and registered its tree) before an error escapes,
    // so the caller's close() closes them all.
    const results = await Promise.allSettled(opens)
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failure !== undefined) throw failure.reason
  }

  private async openExisting(name: string): Promise<void> {
    const dir = `${this.dataDir}/${name}`
    try {
      const options = await this.readOptions(dir)
      // createIfMissing: a directory with no CURRENT is a tree never opened (a crash right
      // after create's rename, or a `mkdir`); the engine refuses one holding stray data files.
      const tree = await Tree.open(dir, this.treeOptions(options))
      this.trees.set(name, { tree, options })
    } catch (error) {
      if (!isStrataError(error)) throw error
      this.failed.set(name, error)
    }
  }

  private async readOptions(dir: string): Promise<CatalogTreeOptions> {
    const path = `${dir}/${TREE_OPTIONS_FILE_NAME}`
    // A tree directory made by the embedded engine alone has no OPTIONS.json: catalog defaults.
    if (!(await this.vfs.exists(path))) return {}
    const stat = await this.vfs.stat(path)
    if (stat.sizeBytes > TREE_OPTIONS_FILE_BYTES_MAX) throw corruption(`larger than ${TREE_OPTIONS_FILE_BYTES_MAX} bytes`, TREE_OPTIONS_FILE_NAME, 0)
    return decodeTreeOptionsFile(await readWholeFile(this.vfs, path))
  }

  private treeOptions(options: CatalogTreeOptions): TreeOptions {
    const d = this.defaults
    const out: TreeOptions = { vfs: this.vfs, createIfMissing: true, sync: options.sync ?? d.sync ?? 'always' }
    if (options.mergeOperator !== undefined) out.mergeOperator = options.mergeOperator
    if (options.compression !== undefined) out.compression = options.compression
    if (options.filterBitsPerKey !== undefined) out.filterBitsPerKey = options.filterBitsPerKey
    if (d.memtableBytes !== undefined) out.memtableBytes = d.memtableBytes
    if (d.blockBytes !== undefined) out.blockBytes = d.blockBytes
    if (d.tableBytes !== undefined) out.tableBytes = d.tableBytes
    if (d.blockCacheBytes !== undefined) out.blockCacheBytes = d.blockCacheBytes
    if (d.replication !== undefined) out.replication = { ...d.replication, follower: false }
    return out
  }

  /** The open tree called `name`, or undefined (also for a tree that failed to open). */
  get(name: string): Tree | undefined {
    return this.trees.get(name)?.tree
  }

  /** The persisted options of the open tree `name`. */
  optionsOf(name: string): CatalogTreeOptions | undefined {
    const entry = this.trees.get(name)
    return entry === undefined ? undefined : { ...entry.options }
  }

  /** Why `name` could not be opened, if it could not. */
  failure(name: string): StrataError | undefined {
    return this.failed.get(name)
  }

  /** Open trees, by name. */
  list(): CatalogEntry[] {
    return [...this.trees.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, e]) => ({ name, tree: e.tree, options: { ...e.options } }))
  }

  /** Trees found on disk that could not be opened, by name. */
  failures(): CatalogFailure[] {
    return [...this.failed.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, error]) => ({ name, error }))
  }

  /**
   * Creates the tree `name` with `options` and opens it. Throws INVALID_ARGUMENT (bad name or
   * options, too many trees), EXISTS (the name is taken, or being created), CLOSED.
   */
  async create(name: string, options: CatalogTreeOptions = {}): Promise<Tree> {
    this.checkOpen()
    if (!isValidTreeName(name)) throw invalidArgument(`tree names match ${TREE_NAME_PATTERN.source}`)
    const valid = validateCatalogTreeOptions(options)
    if (this.trees.has(name) || this.failed.has(name) || this.pending.has(name)) {
      throw new StrataError(ErrorCode.EXISTS, `tree '${name}' exists`)
    }
    if (this.trees.size + this.failed.size + this.pending.size >= CATALOG_TREES_MAX) {
      throw invalidArgument(`a data directory holds at most ${CATALOG_TREES_MAX} trees`)
    }
    return this.track(name, this.createTree(name, valid))
  }

  private async createTree(name: string, options: CatalogTreeOptions): Promise<Tree> {
    const dir = `${this.dataDir}/${name}`
    if (await this.vfs.exists(dir)) throw new StrataError(ErrorCode.EXISTS, `'${name}' exists in the data directory`)
    await this.vfs.removeAll(`${this.dataDir}/${CHECKPOINTS_DIR_NAME}/${name}`)
    const staging = `${this.dataDir}/${STAGING_PREFIX}${randomBytes(8).toString('hex')}`
    try {
      await this.vfs.mkdirp(staging)
      await writeFileAtomic(this.vfs, `${staging}/${TREE_OPTIONS_FILE_NAME}`, encodeTreeOptionsFile(options))
      await this.vfs.rename(staging, dir)
      await this.vfs.syncDir(this.dataDir)
    } catch (error) {
      await this.vfs.removeAll(staging).catch(() => undefined)
      throw error
    }
    let tree: Tree
    try {
      tree = await Tree.open(dir, this.treeOptions(options))
    } catch (error) {
      await this.removeDir(dir).catch(() => undefined)
      throw error
    }
    await this.hold(name, tree, options)
    return tree
  }

  /** Holds a tree just opened, or closes it if the catalog was closed meanwhile (CLOSED). */
  private async hold(name: string, tree: Tree, options: CatalogTreeOptions): Promise<void> {
    if (this.closed) {
      await tree.close()
      throw new StrataError(ErrorCode.CLOSED, 'the catalog is closed')
    }
    this.trees.set(name, { tree, options })
  }

  /**
   * Creates the tree `name` from a directory that `place(dir)` puts at `dir` (it must appear
   * atomically: a restore renames its verified staging directory there, under this data
   * directory), then opens it with its OPTIONS.json. The name is reserved meanwhile (a concurrent
   * create or restore sees EXISTS). If `place` throws, nothing is created; if the placed tree
   * does not open, its directory is removed and the error rethrown. Throws like create().
   */
  async adopt<T>(name: string, place: (dir: string) => Promise<T>): Promise<{ tree: Tree; placed: T }> {
    this.checkOpen()
    if (!isValidTreeName(name)) throw invalidArgument(`tree names match ${TREE_NAME_PATTERN.source}`)
    if (this.trees.has(name) || this.failed.has(name) || this.pending.has(name)) {
      throw new StrataError(ErrorCode.EXISTS, `tree '${name}' exists`)
    }
    if (this.trees.size + this.failed.size + this.pending.size >= CATALOG_TREES_MAX) {
      throw invalidArgument(`a data directory holds at most ${CATALOG_TREES_MAX} trees`)
    }
    return this.track(name, this.adoptTree(name, place))
  }

  private async adoptTree<T>(name: string, place: (dir: string) => Promise<T>): Promise<{ tree: Tree; placed: T }> {
    const dir = `${this.dataDir}/${name}`
    if (await this.vfs.exists(dir)) throw new StrataError(ErrorCode.EXISTS, `'${name}' exists in the data directory`)
    // Named checkpoints left by a drop that crashed belong to an older tree of this name.
    await this.vfs.removeAll(`${this.dataDir}/${CHECKPOINTS_DIR_NAME}/${name}`)
    const placed = await place(dir)
    let tree: Tree
    let options: CatalogTreeOptions
    try {
      options = await this.readOptions(dir)
      tree = await Tree.open(dir, { ...this.treeOptions(options), createIfMissing: false })
    } catch (error) {
      await this.removeDir(dir).catch(() => undefined)
      throw error
    }
    await this.hold(name, tree, options)
    return { tree, placed }
  }

  /**
   * Closes the tree `name` (waiting for its in-flight writes) and removes its files. Works on a
   * tree that failed to open too. Throws NOT_FOUND if there is no such tree (or a create or drop
   * of it is in progress), CLOSED.
   */
  async drop(name: string): Promise<void> {
    this.checkOpen()
    const entry = this.trees.get(name)
    const failure = this.failed.get(name)
    if ((entry === undefined && failure === undefined) || this.pending.has(name)) {
      throw new StrataError(ErrorCode.NOT_FOUND, `no tree '${name}'`)
    }
    this.trees.delete(name)
    this.failed.delete(name)
    await this.track(name, this.dropTree(name, entry?.tree))
  }

  private async dropTree(name: string, tree: Tree | undefined): Promise<void> {
    // A close failure (the WAL's last sync) does not matter: the tree's data is going away.
    if (tree !== undefined) await tree.close().catch(() => undefined)
    // Its named checkpoints first: a crash in between leaves the tree without them, never
    // checkpoints without a tree (adopt/create remove such leftovers anyway).
    await this.vfs.removeAll(`${this.dataDir}/${CHECKPOINTS_DIR_NAME}/${name}`)
    await this.removeDir(`${this.dataDir}/${name}`)
  }

  /** Renames `dir` to a `.dropped-*` name (durably), then removes it. */
  private async removeDir(dir: string): Promise<void> {
    const dropped = `${this.dataDir}/${DROPPED_PREFIX}${randomBytes(8).toString('hex')}`
    await this.vfs.rename(dir, dropped)
    await this.vfs.syncDir(this.dataDir)
    // Past the rename the tree is gone; a failed removal is retried at the next open.
    await this.vfs.removeAll(dropped).catch(() => undefined)
  }

  private async track<T>(name: string, operation: Promise<T>): Promise<T> {
    assert(!this.pending.has(name), 'one operation per name')
    const settled = operation.then(
      () => undefined,
      () => undefined,
    )
    this.pending.set(name, settled)
    try {
      return await operation
    } finally {
      this.pending.delete(name)
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new StrataError(ErrorCode.CLOSED, 'the catalog is closed')
  }

  /** Waits for creates and drops in progress, closes every tree and releases the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([...this.pending.values()])
    const results = await Promise.allSettled([...this.trees.values()].map((e) => e.tree.close()))
    this.trees.clear()
    await this.lock.release()
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failure !== undefined) throw failure.reason
  }
}
