/**
 * CheckpointStore: the checkpoints a server keeps under `<dataDir>/.checkpoints/` (the catalog
 * never opens dot-names as trees, and removes `.checkpoints/<tree>/` when it drops the tree).
 *
 *     <dataDir>/.checkpoints/<tree>/
 *       <id>/              a named checkpoint: the tree's files (hard links) + OPTIONS.json
 *       <id>.json          its record (below); written last: a directory without one is debris
 *       .creating-<hex>/   a named checkpoint being made (debris after a crash)
 *       .stream-<hex>/     the temporary checkpoint of one GET /checkpoint (removed when it ends)
 *
 * <id>.json (UTF-8 JSON, at most RECORD_BYTES_MAX bytes, replaced atomically, never rewritten):
 *     {"formatVersion":1,"id":"<24 hex>","tree":"orders","treeId":"...","versionId":7,
 *      "seqno":1234,"files":5,"bytes":123456,"createdAt":"2025-01-02T03:04:05.678Z"}
 *
 * Invariants:
 * - Ids are made here (12 hex digits of milliseconds + 12 random: they sort by creation) and
 *   every id from a request is checked against CHECKPOINT_ID_PATTERN before it is joined to a path.
 * - A checkpoint belongs to the tree with its treeId: one left by an older tree of the same name
 *   (a crash between drop and cleanup) is never listed, and sweep() removes it.
 * - A named checkpoint being streamed is not removed under the stream: delete() removes its
 *   record at once (it is gone for every new request) and its files when the last reader ends.
 * - sweep() (at server start) removes temporaries and debris; it runs while no request runs.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

import { CHECKPOINTS_DIR_NAME, TREE_OPTIONS_FILE_NAME, isValidTreeName, nodeVfs, type Tree } from '../engine/index.js'

/** A named checkpoint id: 24 lowercase hex digits. */
export const CHECKPOINT_ID_PATTERN = /^[0-9a-f]{24}$/
/** Named checkpoints per tree: each pins disk space (the tables it links). */
export const NAMED_CHECKPOINTS_PER_TREE_MAX = 64
/** A record is ~250 bytes; anything bigger is not ours. */
const RECORD_BYTES_MAX = 64 * 1024
const RECORD_FORMAT_VERSION = 1
const CREATING_PREFIX = '.creating-'
const STREAM_PREFIX = '.stream-'

export interface NamedCheckpoint {
  id: string
  tree: string
  treeId: string
  versionId: number
  seqno: number
  /** Files in the checkpoint (tables, manifest, CURRENT, OPTIONS.json). */
  files: number
  /** Their bytes. */
  bytes: number
  createdAt: string
}

export interface CheckpointUsage {
  count: number
  /** Bytes of all named checkpoints of the tree (a file shared by two counts twice). */
  bytes: number
  /** Bytes on disk only the checkpoints keep alive: files no longer in the live tree, each once. */
  pinnedBytes: number
}

/** A checkpoint directory being read (streamed); release() when done. */
export interface CheckpointLease {
  dir: string
  versionId: number
  seqno: number
  treeId: string
  createdAt: string
  release(): Promise<void>
}

/** Thrown when a tree already has NAMED_CHECKPOINTS_PER_TREE_MAX named checkpoints. */
export class TooManyCheckpointsError extends Error {
  override readonly name = 'TooManyCheckpointsError'
}

function newId(): string {
  return Date.now().toString(16).padStart(12, '0').slice(-12) + randomBytes(6).toString('hex')
}

export class CheckpointStore {
  readonly root: string
  /** Readers per `<tree>/<id>`, and ids whose files go when their last reader ends. */
  readonly #readers = new Map<string, number>()
  readonly #doomed = new Set<string>()

  constructor(readonly dataDir: string) {
    this.root = join(dataDir, CHECKPOINTS_DIR_NAME)
  }

  #treeDir(tree: string): string {
    if (!isValidTreeName(tree)) throw new TypeError('invalid tree name')
    return join(this.root, tree)
  }

  /**
   * A temporary checkpoint of `tree` for one stream: a hard-linked copy (tree.checkpoint) plus
   * OPTIONS.json. The lease's release() removes it.
   */
  async takeTemporary(name: string, tree: Tree, optionsFile: Buffer | undefined): Promise<CheckpointLease> {
    const parent = this.#treeDir(name)
    await mkdir(parent, { recursive: true })
    const dir = join(parent, `${STREAM_PREFIX}${randomBytes(8).toString('hex')}`)
    try {
      const result = await tree.checkpoint(dir)
      if (optionsFile !== undefined) await writeDurably(join(dir, TREE_OPTIONS_FILE_NAME), optionsFile)
      let released = false
      return {
        dir,
        versionId: result.versionId,
        seqno: result.seqno,
        treeId: tree.treeId,
        createdAt: new Date().toISOString(),
        release: async () => {
          if (released) return
          released = true
          await rm(dir, { recursive: true, force: true })
        },
      }
    } catch (error) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined)
      throw error
    }
  }

  /** Makes a named checkpoint of `tree`. Throws TooManyCheckpointsError past the per-tree bound. */
  async create(name: string, tree: Tree, optionsFile: Buffer | undefined): Promise<NamedCheckpoint> {
    const parent = this.#treeDir(name)
    if ((await this.list(name, tree.treeId)).length >= NAMED_CHECKPOINTS_PER_TREE_MAX) {
      throw new TooManyCheckpointsError(`a tree keeps at most ${NAMED_CHECKPOINTS_PER_TREE_MAX} named checkpoints; delete some first`)
    }
    await mkdir(parent, { recursive: true })
    const id = newId()
    const creating = join(parent, `${CREATING_PREFIX}${randomBytes(8).toString('hex')}`)
    try {
      const result = await tree.checkpoint(creating)
      let files = result.files
      let bytes = result.bytes
      if (optionsFile !== undefined) {
        await writeDurably(join(creating, TREE_OPTIONS_FILE_NAME), optionsFile)
        files += 1
        bytes += optionsFile.length
      }
      await nodeVfs.syncDir(creating)
      const record: NamedCheckpoint = {
        id, tree: name, treeId: tree.treeId, versionId: result.versionId, seqno: result.seqno, files, bytes, createdAt: new Date().toISOString(),
      }
      await rename(creating, join(parent, id))
      await nodeVfs.syncDir(parent)
      // The record is the commit point: written (temp, fsync, rename, fsync dir) after the files.
      const recordPath = join(parent, `${id}.json`)
      await writeDurably(`${recordPath}.tmp`, Buffer.from(JSON.stringify({ formatVersion: RECORD_FORMAT_VERSION, ...record })))
      await rename(`${recordPath}.tmp`, recordPath)
      await nodeVfs.syncDir(parent)
      return record
    } catch (error) {
      await rm(creating, { recursive: true, force: true }).catch(() => undefined)
      await rm(join(parent, id), { recursive: true, force: true }).catch(() => undefined)
      await rm(join(parent, `${id}.json.tmp`), { force: true }).catch(() => undefined)
      throw error
    }
  }

  /** The named checkpoints of tree `name` whose treeId is `treeId`, oldest first. */
  async list(name: string, treeId: string): Promise<NamedCheckpoint[]> {
    const parent = this.#treeDir(name)
    let names: string[]
    try {
      names = await readdir(parent)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw error
    }
    const out: NamedCheckpoint[] = []
    for (const file of names.sort()) {
      if (!file.endsWith('.json')) continue
      const id = file.slice(0, -'.json'.length)
      if (!CHECKPOINT_ID_PATTERN.test(id)) continue
      const record = await this.#readRecord(name, id)
      if (record !== undefined && record.treeId === treeId) out.push(record)
    }
    return out
  }

  /** The record of checkpoint `id` of `name`, if it exists and belongs to `treeId`. */
  async get(name: string, treeId: string, id: string): Promise<NamedCheckpoint | undefined> {
    if (!CHECKPOINT_ID_PATTERN.test(id)) return undefined
    const record = await this.#readRecord(name, id)
    return record !== undefined && record.treeId === treeId ? record : undefined
  }

  /** Leases checkpoint `id` for reading; undefined if there is none. */
  async acquire(name: string, treeId: string, id: string): Promise<CheckpointLease | undefined> {
    const record = await this.get(name, treeId, id)
    if (record === undefined) return undefined
    const key = `${name}/${id}`
    this.#readers.set(key, (this.#readers.get(key) ?? 0) + 1)
    let released = false
    return {
      dir: join(this.#treeDir(name), id),
      versionId: record.versionId,
      seqno: record.seqno,
      treeId: record.treeId,
      createdAt: record.createdAt,
      release: async () => {
        if (released) return
        released = true
        const left = (this.#readers.get(key) ?? 1) - 1
        if (left > 0) {
          this.#readers.set(key, left)
          return
        }
        this.#readers.delete(key)
        if (this.#doomed.delete(key)) await rm(join(this.#treeDir(name), id), { recursive: true, force: true })
      },
    }
  }

  /** Deletes checkpoint `id` of `name`; false if there is none (see the invariants for readers). */
  async delete(name: string, treeId: string, id: string): Promise<boolean> {
    if ((await this.get(name, treeId, id)) === undefined) return false
    const parent = this.#treeDir(name)
    await rm(join(parent, `${id}.json`), { force: true })
    await nodeVfs.syncDir(parent)
    const key = `${name}/${id}`
    if ((this.#readers.get(key) ?? 0) > 0) this.#doomed.add(key)
    else await rm(join(parent, id), { recursive: true, force: true })
    return true
  }

  /** Count and bytes of the named checkpoints of `name`, and the bytes only they keep on disk. */
  async usage(name: string, treeId: string): Promise<CheckpointUsage> {
    const checkpoints = await this.list(name, treeId)
    if (checkpoints.length === 0) return { count: 0, bytes: 0, pinnedBytes: 0 }
    const live = new Set<string>()
    for (const file of await readdir(join(this.dataDir, name)).catch(() => [] as string[])) {
      const s = await stat(join(this.dataDir, name, file), { bigint: true }).catch(() => undefined)
      if (s?.isFile() === true) live.add(`${s.dev}:${s.ino}`)
    }
    const counted = new Set<string>()
    let pinnedBytes = 0
    for (const c of checkpoints) {
      const dir = join(this.#treeDir(name), c.id)
      for (const file of await readdir(dir).catch(() => [] as string[])) {
        const s = await stat(join(dir, file), { bigint: true }).catch(() => undefined)
        if (s === undefined || !s.isFile()) continue
        const key = `${s.dev}:${s.ino}`
        if (live.has(key) || counted.has(key)) continue
        counted.add(key)
        pinnedBytes += Number(s.size)
      }
    }
    return { count: checkpoints.length, bytes: checkpoints.reduce((n, c) => n + c.bytes, 0), pinnedBytes }
  }

  /**
   * Removes what a crash or an old tree left: temporaries, checkpoint directories without a
   * record, records without a directory, and every checkpoint of a tree not in `trees` (name ->
   * treeId; a tree that failed to open maps to undefined and keeps its checkpoints). Call it
   * before serving requests.
   */
  async sweep(trees: ReadonlyMap<string, string | undefined>): Promise<void> {
    let names: string[]
    try {
      names = await readdir(this.root)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      throw error
    }
    for (const name of names) {
      if (!isValidTreeName(name) || !trees.has(name)) {
        await rm(join(this.root, name), { recursive: true, force: true })
        continue
      }
      await this.#sweepTree(name, trees.get(name))
    }
  }

  async #sweepTree(name: string, treeId: string | undefined): Promise<void> {
    const parent = this.#treeDir(name)
    const entries = await readdir(parent)
    const records = new Set(entries.filter((e) => e.endsWith('.json')).map((e) => e.slice(0, -'.json'.length)))
    for (const entry of entries) {
      const id = entry.endsWith('.json') ? entry.slice(0, -'.json'.length) : entry
      const known = CHECKPOINT_ID_PATTERN.test(id) && records.has(id) && entries.includes(id)
      if (!known) {
        await rm(join(parent, entry), { recursive: true, force: true })
        continue
      }
      if (treeId === undefined || !entry.endsWith('.json')) continue
      const record = await this.#readRecord(name, id)
      if (record === undefined || record.treeId !== treeId) {
        await rm(join(parent, `${id}.json`), { force: true })
        await rm(join(parent, id), { recursive: true, force: true })
      }
    }
  }

  /** Reads and checks `<id>.json`; undefined when missing or not a record this build wrote. */
  async #readRecord(name: string, id: string): Promise<NamedCheckpoint | undefined> {
    const path = join(this.#treeDir(name), `${id}.json`)
    let bytes: Buffer
    try {
      const s = await stat(path)
      if (!s.isFile() || s.size > RECORD_BYTES_MAX) return undefined
      bytes = await readFile(path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
    return parseRecord(bytes, name, id)
  }
}

function parseRecord(bytes: Buffer, name: string, id: string): NamedCheckpoint | undefined {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const r = value as Record<string, unknown>
  const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
  if (r['formatVersion'] !== RECORD_FORMAT_VERSION || r['id'] !== id || r['tree'] !== name) return undefined
  if (typeof r['treeId'] !== 'string' || typeof r['createdAt'] !== 'string' || Number.isNaN(Date.parse(r['createdAt']))) return undefined
  if (!count(r['versionId']) || !count(r['seqno']) || !count(r['files']) || !count(r['bytes'])) return undefined
  return {
    id,
    tree: name,
    treeId: r['treeId'],
    versionId: r['versionId'] as number,
    seqno: r['seqno'] as number,
    files: r['files'] as number,
    bytes: r['bytes'] as number,
    createdAt: r['createdAt'],
  }
}

/** Creates `path` (must not exist) holding `data`, fsynced. */
async function writeDurably(path: string, data: Buffer): Promise<void> {
  await writeFile(path, data, { flag: 'wx', mode: 0o644 })
  const handle = await open(path, 'r+')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

