/**
 * TreeReplicator: keeps one follower copy of a leader's tree (API.md "Follower"; protocol in
 * docs/replication.md). Three loops, each with exponential backoff and jitter on failure:
 *
 * - deltas: long-poll the delta since the installed version -> download the files the copy
 *   lacks (parallel, resumable, verified) -> install through the engine -> release the lease.
 *   410 VERSION_GONE, another treeId or a delta that does not continue the copy -> bootstrap.
 * - status: every STATUS_INTERVAL_MS, the leader's state: lag figures, and a treeId check that
 *   notices a replaced leader tree even while deltas keep failing.
 * - WAL (with --wal): stream committed batches after the copy's seqno into its memtables;
 *   WAL_GONE (the records are in tables now) waits for the next install.
 *
 * Bootstrap: GET /checkpoint streamed (rate-limited) into src/backup restoreArchive (every file
 * checked against BACKUP.json's SHA-256, the tree opened, leader treeId kept) as a NEW copy
 * directory; opened as a follower and positioned at BACKUP.json's versionId; then REPLICA.json
 * switches to it and the old copy (which served reads meanwhile) is closed after a grace period
 * and removed. A failed bootstrap leaves the old copy serving and is retried with backoff, so
 * there is no tight bootstrap loop (Kvrocks #1319, Redis #11534).
 *
 * Position: the installed version in the copy's manifest; restarting resumes from it, and
 * files already received wait in the copy's staging directory (replica-dir.ts).
 */
import { mkdir, readFile, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'

import { TREE_OPTIONS_FILE_NAME, Tree, decodeTreeOptionsFile, isStrataError, type CatalogTreeOptions, type TreeOptions } from '../engine/index.js'
import { restoreArchive } from '../backup/index.js'
import { LeaderError, type LeaderClient } from './client.js'
import { fetchFile, FetchError } from './file-fetcher.js'
import { ProtocolError, type ParsedDelta } from './protocol.js'
import type { RateLimiter } from './rate-limit.js'
import { copyName, nextGeneration, readLiveCopy, removeLeftovers, writeLiveCopy } from './replica-dir.js'
import { followWal } from './wal-follower.js'

/** How long a delta request long-polls on the leader. */
export const LONG_POLL_MS = 25_000
/** How often the leader's state is read (lag figures, treeId check). */
export const STATUS_INTERVAL_MS = 1_000
/** Parallel file downloads per tree. */
export const DOWNLOADS_PARALLEL = 4
/** An old copy is closed this long after a new one took over (reads in flight finish; at
 *  shutdown it is closed at once). */
export const RETIRE_GRACE_MS = 5_000
/** Backoff after failures: base doubling up to max, with full jitter. */
export const BACKOFF_BASE_MS = 200
export const BACKOFF_MAX_MS = 10_000

export interface ReplicatorLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface ReplicatorOptions {
  name: string
  /** <data>/<name> */
  dir: string
  client: LeaderClient
  wal: boolean
  limiter?: RateLimiter | undefined
  log: ReplicatorLog
  /** Engine options for the copies (block cache size...). */
  treeOptions?: TreeOptions
}

export interface ReplicatorFigures {
  bootstraps: number
  installs: number
  downloads: number
  downloadBytes: number
  refetches: number
  walRecords: number
}

export function backoffMs(failures: number, random: () => number = Math.random): number {
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(failures, 20))
  return Math.floor(cap / 2 + random() * (cap / 2))
}

export class TreeReplicator {
  readonly name: string
  readonly figures: ReplicatorFigures = { bootstraps: 0, installs: 0, downloads: 0, downloadBytes: 0, refetches: 0, walRecords: 0 }
  #tree: Tree | undefined
  #options: CatalogTreeOptions = {}
  #leaderSeqno = 0
  #leaderTreeId: string | undefined
  #caughtUpAtMs = Date.now()
  #stopping = false
  #needBootstrap = false
  readonly #stop = new AbortController()
  /** Aborts the delta long-poll (a bootstrap is needed now). */
  #poll = new AbortController()
  #loops: Promise<void>[] = []
  #installWaiters: (() => void)[] = []
  readonly #retiring = new Set<Promise<void>>()

  constructor(private readonly o: ReplicatorOptions) {
    this.name = o.name
  }

  /** The live copy (undefined until the first bootstrap completed). */
  get tree(): Tree | undefined {
    return this.#tree
  }

  get options(): CatalogTreeOptions {
    return { ...this.#options }
  }

  get ready(): boolean {
    return this.#tree !== undefined
  }

  /** API.md stats: replication { leader, versionId, seqnoLag, secondsBehind }. */
  stats(): { leader: string; versionId: number | null; seqnoLag: number; secondsBehind: number } {
    const tree = this.#tree
    const seqno = tree?.seqno ?? 0
    const lag = Math.max(0, this.#leaderSeqno - seqno)
    if (lag === 0) this.#caughtUpAtMs = Date.now()
    return {
      leader: this.o.client.origin,
      versionId: tree?.replica.position().versionId ?? null,
      seqnoLag: lag,
      secondsBehind: lag === 0 ? 0 : (Date.now() - this.#caughtUpAtMs) / 1000,
    }
  }

  /** Opens the copy on disk (if any) and starts the loops. */
  async start(): Promise<void> {
    await this.#openExisting()
    this.#loops.push(this.#forever('deltas', () => this.#deltaStep()))
    this.#loops.push(this.#forever('status', () => this.#statusStep()))
    if (this.o.wal) {
      this.#loops.push(this.#forever('wal', async () => {
        const tree = this.#tree
        if (tree === undefined) return this.#sleep(BACKOFF_BASE_MS)
        const result = await followWal(this.o.client, this.name, tree, {
          signal: this.#stop.signal,
          current: () => this.#tree,
          onRecord: () => this.figures.walRecords++,
          onHeartbeat: (seqno) => this.#noteLeaderSeqno(seqno),
        })
        // The records are in tables now (or the memtables are full): wait for an install.
        if (result === 'gone' || result === 'full') await this.#nextInstall(LONG_POLL_MS)
        else if (result === 'reconnect') await this.#sleep(BACKOFF_BASE_MS)
      }))
    }
  }

  async #openExisting(): Promise<void> {
    const live = await readLiveCopy(this.o.dir)
    await removeLeftovers(this.o.dir, live)
    if (live === undefined) return
    try {
      const { tree, options } = await this.#openCopy(join(this.o.dir, live))
      if (tree.replica.position().versionId === undefined) {
        await tree.close()
        return
      }
      this.#tree = tree
      this.#options = options
      this.o.log.info({ tree: this.name, versionId: tree.replica.position().versionId, seqno: tree.seqno }, 'follower copy opened')
    } catch (error) {
      // A damaged copy is replaced by a bootstrap; it is not served.
      this.o.log.error({ tree: this.name, err: error }, 'the follower copy does not open; bootstrapping again')
    }
  }

  async #openCopy(dir: string): Promise<{ tree: Tree; options: CatalogTreeOptions }> {
    let options: CatalogTreeOptions = {}
    try {
      options = decodeTreeOptionsFile(await readFile(join(dir, TREE_OPTIONS_FILE_NAME)))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
    const treeOptions: TreeOptions = { ...this.o.treeOptions, createIfMissing: false, replication: { follower: true } }
    if (options.mergeOperator !== undefined) treeOptions.mergeOperator = options.mergeOperator
    if (options.compression !== undefined) treeOptions.compression = options.compression
    return { tree: await Tree.open(dir, treeOptions), options }
  }

  /** Runs `step` until stopped; a failure waits backoffMs(failures) before the next try. */
  async #forever(what: string, step: () => Promise<void>): Promise<void> {
    let failures = 0
    while (!this.#stopping) {
      try {
        await step()
        failures = 0
      } catch (error) {
        if (this.#stopping) return
        failures++
        const waitMs = backoffMs(failures)
        this.o.log.warn({ tree: this.name, loop: what, err: describe(error), retryMs: waitMs }, 'replication step failed')
        await this.#sleep(waitMs)
      }
    }
  }

  async #deltaStep(): Promise<void> {
    const tree = this.#tree
    if (tree === undefined || this.#needBootstrap) return this.#bootstrap()
    const since = tree.replica.position().versionId!
    this.#poll = new AbortController()
    let delta: ParsedDelta
    try {
      delta = await this.o.client.delta(this.name, since, LONG_POLL_MS, AbortSignal.any([this.#stop.signal, this.#poll.signal]))
    } catch (error) {
      if (this.#needBootstrap || this.#stopping) return
      if (error instanceof LeaderError && error.code === 'VERSION_GONE') {
        this.o.log.warn({ tree: this.name, since }, 'the leader cannot serve a delta from this version; bootstrapping again')
        this.#needBootstrap = true
        return
      }
      throw error
    }
    if (delta.treeId !== tree.treeId) {
      this.o.log.warn({ tree: this.name }, 'the leader tree has another treeId (replaced); bootstrapping again')
      this.#needBootstrap = true
      return
    }
    if (delta.to === delta.from && delta.addTables.length === 0 && delta.removeTables.length === 0) return
    await this.#install(tree, delta)
  }

  async #install(tree: Tree, delta: ParsedDelta): Promise<void> {
    const moved = new Set(delta.removeTables)
    const missing = delta.addTables.filter((t) => !moved.has(t.id))
    await this.#download(missing.map((t) => ({ tree: this.name, id: t.id, sizeBytes: t.sizeBytes, checksum: t.checksum })), tree.replicaStagingDir)
    try {
      await tree.replica.installDelta(delta)
    } catch (error) {
      if (isStrataError(error, 'REPLICA_DIVERGED')) {
        this.o.log.warn({ tree: this.name, err: describe(error) }, 'the delta does not continue this copy; bootstrapping again')
        this.#needBootstrap = true
        return
      }
      // A file the engine refused (CORRUPTION) must not be reused by the retry.
      if (isStrataError(error, 'CORRUPTION')) await clearStaging(tree.replicaStagingDir)
      throw error
    }
    this.figures.installs++
    for (const w of this.#installWaiters.splice(0)) w()
    if (delta.leaseId !== null) {
      await this.o.client.releaseLease(this.name, delta.leaseId).catch((error: unknown) => {
        this.o.log.warn({ tree: this.name, err: describe(error) }, 'releasing a lease failed (it expires on its own)')
      })
    }
    await clearStaging(tree.replicaStagingDir)
  }

  async #download(targets: { tree: string; id: number; sizeBytes: number; checksum: number }[], staging: string): Promise<void> {
    await mkdir(staging, { recursive: true })
    let next = 0
    const worker = async () => {
      while (next < targets.length) {
        const target = targets[next++]!
        const result = await fetchFile(this.o.client, target, staging, {
          limiter: this.o.limiter,
          signal: this.#stop.signal,
          onMismatch: (id, why) => {
            this.figures.refetches++
            this.o.log.warn({ tree: this.name, table: id, why }, 'a downloaded file failed verification; fetching it again')
          },
        })
        if (result === 'downloaded') {
          this.figures.downloads++
          this.figures.downloadBytes += target.sizeBytes
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(DOWNLOADS_PARALLEL, targets.length) }, worker))
  }

  async #bootstrap(): Promise<void> {
    const state = await this.o.client.state(this.name, this.#stop.signal)
    const generation = await nextGeneration(this.o.dir)
    const copy = copyName(generation)
    this.o.log.info({ tree: this.name, copy, leaderVersionId: state.versionId }, 'bootstrapping from the leader checkpoint')
    const archive = await this.o.client.checkpoint(this.name, this.#stop.signal)
    const limiter = this.o.limiter
    async function* throttled(): AsyncGenerator<Buffer> {
      for await (const chunk of archive.body) {
        if (limiter !== undefined) await limiter.take(chunk.length)
        yield chunk
      }
    }
    let dir: string
    let manifest
    try {
      const restored = await restoreArchive(throttled(), { dataDir: this.o.dir, treeName: copy, keepTreeId: true })
      dir = restored.dir
      manifest = restored.manifest
    } catch (error) {
      archive.body.destroy()
      throw error
    }
    const { tree, options } = await this.#openCopy(dir)
    try {
      await tree.replica.installDelta({
        treeId: tree.treeId, from: manifest.versionId, to: manifest.versionId, seqno: manifest.seqno,
        addTables: [], removeTables: [], addBlobFiles: [], removeBlobFiles: [],
      })
      await writeLiveCopy(this.o.dir, copy)
    } catch (error) {
      await tree.close().catch(() => undefined)
      await rm(dir, { recursive: true, force: true })
      throw error
    }
    const old = this.#tree
    this.#tree = tree
    this.#options = options
    this.#needBootstrap = false
    this.#leaderTreeId = tree.treeId
    this.figures.bootstraps++
    for (const w of this.#installWaiters.splice(0)) w()
    this.o.log.info({ tree: this.name, copy, versionId: manifest.versionId, seqno: manifest.seqno }, 'bootstrap complete')
    if (old !== undefined) this.#retire(old)
  }

  /** Closes a replaced copy after the grace period and removes its directory. */
  #retire(old: Tree): void {
    const run = (async () => {
      await this.#sleep(RETIRE_GRACE_MS)
      await old.close().catch(() => undefined)
      await rm(old.path, { recursive: true, force: true })
    })()
    this.#retiring.add(run)
    void run.finally(() => this.#retiring.delete(run))
  }

  async #statusStep(): Promise<void> {
    const state = await this.o.client.state(this.name, this.#stop.signal)
    this.#noteLeaderSeqno(state.seqno)
    const tree = this.#tree
    if (tree !== undefined && state.treeId !== tree.treeId && !this.#needBootstrap) {
      this.o.log.warn({ tree: this.name }, 'the leader tree has another treeId (replaced); bootstrapping again')
      this.#needBootstrap = true
      this.#poll.abort()
    }
    this.#leaderTreeId = state.treeId
    await this.#sleep(STATUS_INTERVAL_MS)
  }

  #noteLeaderSeqno(seqno: number): void {
    this.#leaderSeqno = seqno
    if ((this.#tree?.seqno ?? -1) >= seqno) this.#caughtUpAtMs = Date.now()
  }

  get leaderTreeId(): string | undefined {
    return this.#leaderTreeId
  }

  /** Resolves at the next install or bootstrap, after `timeoutMs`, or at stop. */
  #nextInstall(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let settled = false
      const done = () => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        this.#stop.signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      this.#stop.signal.addEventListener('abort', done, { once: true })
      this.#installWaiters.push(done)
    })
  }

  /** Sleeps `ms`, cut short by stop. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.#stop.signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.#stop.signal.addEventListener('abort', done, { once: true })
    })
  }

  /** Stops the loops and closes the copies. */
  async close(): Promise<void> {
    this.#stopping = true
    this.#stop.abort()
    await Promise.allSettled(this.#loops)
    for (const run of this.#retiring) await run.catch(() => undefined)
    await this.#tree?.close()
  }
}

async function clearStaging(dir: string): Promise<void> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return
  }
  for (const name of names) await rm(join(dir, name), { force: true, recursive: true })
}

function describe(error: unknown): string {
  if (error instanceof LeaderError || error instanceof ProtocolError || error instanceof FetchError) return error.message
  if (isStrataError(error)) return `${error.code}: ${error.message}`
  if (error instanceof Error) return `${error.name}: ${error.message}${(error as { code?: unknown }).code === undefined ? '' : ` (${String((error as { code?: unknown }).code)})`}`
  return String(error)
}
