/**
 * Follower: a process-wide replica of some or all trees of one leader (`strata follow`).
 * It holds the data directory's lock, discovers the trees to follow (the --trees list, or
 * every tree on the leader, re-listed every DISCOVERY_INTERVAL_MS, plus the copies already on
 * disk), runs one TreeReplicator per tree, and offers the HTTP layer a catalog of the copies
 * (read-only: writes never reach it, the follower plugin answers them 409), readiness, stats
 * and Prometheus gauges.
 *
 * Data directory: `<data>/.lock`, and one directory per tree (replica-dir.ts). A tree dropped
 * on the leader keeps being served from its last copy (its deltas fail and are retried).
 */
import { mkdir, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

import { Gauge, type Registry } from 'prom-client'

import {
  ErrorCode,
  StrataError,
  isValidTreeName,
  nodeVfs,
  type CatalogEntry,
  type CatalogFailure,
  type CatalogTreeOptions,
  type FileLock,
  type Tree,
  type TreeOptions,
} from '../engine/index.js'
import { LeaderClient } from './client.js'
import { RateLimiter, mbpsToBytesPerSecond } from './rate-limit.js'
import { REPLICA_FILE_NAME } from './replica-dir.js'
import { TreeReplicator, type ReplicatorLog } from './tree-replicator.js'

/** How often the leader's tree list is read when following every tree. */
export const DISCOVERY_INTERVAL_MS = 10_000

export interface FollowerOptions {
  leaderUrl: string
  token: string
  dataDir: string
  /** Trees to follow (default: every tree of the leader). */
  trees?: readonly string[]
  wal?: boolean
  maxTransferMbps?: number
  log: ReplicatorLog
  treeOptions?: TreeOptions
}

export class Follower {
  readonly #replicators = new Map<string, TreeReplicator>()
  readonly #stop = new AbortController()
  #discovery: Promise<void> | undefined
  /** False until the leader's tree list was read once (when following every tree). */
  #discovered = true
  #closed = false

  private constructor(
    private readonly options: FollowerOptions,
    readonly client: LeaderClient,
    private readonly lock: FileLock,
    private readonly limiter: RateLimiter | undefined,
  ) {}

  /** Takes the data directory, opens the copies on disk, starts replicating. */
  static async start(options: FollowerOptions): Promise<Follower> {
    for (const name of options.trees ?? []) if (!isValidTreeName(name)) throw new TypeError(`'${name}' is not a valid tree name`)
    await mkdir(options.dataDir, { recursive: true })
    const lock = await nodeVfs.lock(join(options.dataDir, '.lock'))
    const client = new LeaderClient({ leaderUrl: options.leaderUrl, token: options.token })
    const limiter = options.maxTransferMbps === undefined ? undefined : new RateLimiter(mbpsToBytesPerSecond(options.maxTransferMbps))
    const follower = new Follower(options, client, lock, limiter)
    try {
      const names = options.trees ?? (await localTrees(options.dataDir))
      for (const name of names) await follower.#add(name)
      if (options.trees === undefined) {
        follower.#discovered = false
        follower.#discovery = follower.#discover()
      }
    } catch (error) {
      await follower.close().catch(() => undefined)
      throw error
    }
    return follower
  }

  get leaderUrl(): string {
    return this.options.leaderUrl
  }

  async #add(name: string): Promise<void> {
    if (this.#replicators.has(name) || this.#closed) return
    const replicator = new TreeReplicator({
      name,
      dir: join(this.options.dataDir, name),
      client: this.client,
      wal: this.options.wal === true,
      limiter: this.limiter,
      log: this.options.log,
      ...(this.options.treeOptions === undefined ? {} : { treeOptions: this.options.treeOptions }),
    })
    this.#replicators.set(name, replicator)
    await replicator.start()
  }

  async #discover(): Promise<void> {
    while (!this.#closed) {
      try {
        for (const name of await this.client.trees(this.#stop.signal)) {
          if (isValidTreeName(name)) await this.#add(name)
        }
        this.#discovered = true
      } catch (error) {
        if (this.#closed) return
        this.options.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'listing the leader trees failed')
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer)
          this.#stop.signal.removeEventListener('abort', done)
          resolve()
        }
        const timer = setTimeout(done, DISCOVERY_INTERVAL_MS)
        this.#stop.signal.addEventListener('abort', done, { once: true })
      })
    }
  }

  replicator(name: string): TreeReplicator | undefined {
    return this.#replicators.get(name)
  }

  /** Trees whose first bootstrap has not completed: /readyz is 503 until there are none. */
  notReady(): { tree: string; code: string }[] {
    const waiting = [...this.#replicators.values()].filter((r) => !r.ready).map((r) => ({ tree: r.name, code: 'BOOTSTRAPPING' }))
    // Until the leader's list was read, the trees to follow are not known.
    if (!this.#discovered) waiting.push({ tree: '*', code: 'LEADER_UNREACHABLE' })
    return waiting
  }

  /** The `replication` object of a tree's stats. */
  replicationStats(name: string): object | undefined {
    return this.#replicators.get(name)?.stats()
  }

  /** Gauges per tree: versionId applied, seqno lag, seconds behind, and transfer counters. */
  registerMetrics(registry: Registry): void {
    const each = (pick: (r: TreeReplicator) => number | undefined) => function collect(this: Gauge) {
      this.reset()
      for (const r of replicatorsOf()) {
        const v = pick(r)
        if (v !== undefined) this.set({ tree: r.name }, v)
      }
    }
    const replicatorsOf = () => [...this.#replicators.values()]
    const gauge = (name: string, help: string, pick: (r: TreeReplicator) => number | undefined) =>
      new Gauge({ name, help, labelNames: ['tree'], registers: [registry], collect: each(pick) })
    gauge('strata_replication_version_id', 'Leader versionId the follower copy holds', (r) => r.stats().versionId ?? undefined)
    gauge('strata_replication_seqno_lag', "Leader seqno minus the follower's applied seqno", (r) => r.stats().seqnoLag)
    gauge('strata_replication_seconds_behind', 'Seconds since the follower last held everything the leader had', (r) => r.stats().secondsBehind)
    gauge('strata_replication_bootstraps', 'Bootstraps from a checkpoint since start', (r) => r.figures.bootstraps)
    gauge('strata_replication_installs', 'Deltas installed since start', (r) => r.figures.installs)
    gauge('strata_replication_downloads', 'Files downloaded since start', (r) => r.figures.downloads)
    gauge('strata_replication_download_bytes', 'Bytes of files downloaded since start', (r) => r.figures.downloadBytes)
    gauge('strata_replication_refetches', 'Downloads that failed verification and were fetched again', (r) => r.figures.refetches)
    gauge('strata_replication_wal_records', 'WAL records applied since start', (r) => r.figures.walRecords)
  }

  /** The catalog the HTTP routes read from: the live copies, by name. */
  catalog(): ReplicaCatalog {
    return new ReplicaCatalog(this)
  }

  entries(): CatalogEntry[] {
    return [...this.#replicators.values()]
      .filter((r) => r.tree !== undefined)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((r) => ({ name: r.name, tree: r.tree!, options: r.options }))
  }

  get dataDir(): string {
    return this.options.dataDir
  }

  /** Stops every replicator, closes the copies, releases the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#stop.abort()
    await this.#discovery
    const results = await Promise.allSettled([...this.#replicators.values()].map((r) => r.close()))
    await this.client.close().catch(() => undefined)
    await this.lock.release()
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failure !== undefined) throw failure.reason
  }
}

/** Tree directories of a follower's data directory (those with a REPLICA.json). */
async function localTrees(dataDir: string): Promise<string[]> {
  const names: string[] = []
  for (const name of await readdir(dataDir)) {
    if (!isValidTreeName(name)) continue
    try {
      await stat(join(dataDir, name, REPLICA_FILE_NAME))
      names.push(name)
    } catch {
      // not a replicated tree
    }
  }
  return names.sort()
}

function readOnly(): StrataError {
  return new StrataError(ErrorCode.READ_ONLY, 'a follower is read-only: write to its leader')
}

/**
 * The follower's copies seen as a catalog (src/http/plugins/catalog.ts TreeCatalog): reads see
 * the live copy of each tree whose first bootstrap completed; creates, drops and restores are
 * refused (the HTTP layer answers them 409 before they get here).
 */
export class ReplicaCatalog {
  constructor(private readonly follower: Follower) {}

  get dataDir(): string {
    return this.follower.dataDir
  }

  get(name: string): Tree | undefined {
    return this.follower.replicator(name)?.tree
  }

  optionsOf(name: string): CatalogTreeOptions | undefined {
    const r = this.follower.replicator(name)
    return r?.tree === undefined ? undefined : r.options
  }

  /** A tree whose first bootstrap is still running: the routes answer 503 TREE_UNAVAILABLE. */
  failure(name: string): StrataError | undefined {
    const r = this.follower.replicator(name)
    if (r === undefined || r.ready) return undefined
    return new StrataError(ErrorCode.NOT_FOUND, `tree '${name}' is still bootstrapping`)
  }

  list(): CatalogEntry[] {
    return this.follower.entries()
  }

  failures(): CatalogFailure[] {
    return []
  }

  async create(): Promise<Tree> {
    throw readOnly()
  }

  async adopt<T>(_name: string, _place: (dir: string) => Promise<T>): Promise<{ tree: Tree; placed: T }> {
    throw readOnly()
  }

  async drop(): Promise<void> {
    throw readOnly()
  }

  close(): Promise<void> {
    return this.follower.close()
  }
}
