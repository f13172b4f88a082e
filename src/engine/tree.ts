/**
 * Tree: the engine's public object. A thin orchestrator (STYLE rule 1): it validates calls and
 * delegates: the shared state and the install path are tree-core.ts, the write path
 * wal/commit-pipeline.ts with tree-maintenance.ts (WAL, flush, compaction), point reads
 * read-path.ts, scans iterator/user-iterator.ts, opening recovery.ts, replication
 * replicas/leader-source.ts (leader) and replicas/follower.ts (follower).
 *
 * A tree is a leader (the default: it takes writes) or, opened with `replication.follower`, a
 * read-only follower whose Version changes only by installing a leader's deltas.
 *
 * Invariants (see tree-core.ts for the state):
 * - Reads capture the view once and are bounded by the visible seqno.
 * - After a background failure the tree is read-only: reads go on, writes reject with READ_ONLY
 *   and the cause; a reopen recovers from the WAL and manifest.
 * - A follower rejects every write, flush, compaction and checkpoint with READ_ONLY.
 */
import { BlockCache } from './cache/block-cache.js'
import { TableCache, type OpenTable } from './cache/table-cache.js'
import { createCheckpoint, type CheckpointResult } from './checkpoint.js'
import { loadCompactionFilter } from './compaction/compaction-filter.js'
import type { JobRunner } from './compaction/job-runner.js'
import { StrataError, ErrorCode, invalidArgument } from './errors.js'
import { walFileName } from './filenames.js'
import type { InternalIterator } from './iterator/internal-iterator.js'
import { LevelIterator } from './iterator/level-iterator.js'
import { MergingIterator } from './iterator/merging-iterator.js'
import { FragmentedTombstones } from './iterator/range-tombstones.js'
import { TreeIterator } from './iterator/user-iterator.js'
import { LEVEL_COUNT, type ResolvedOptions, type TreeOptions } from './options.js'
import { PinnedViews } from './pinned-views.js'
import { getValue } from './read-path.js'
import type { ReadView } from './read-view.js'
import { recoverTree, removeObsoleteFiles } from './recovery.js'
import { Replica } from './replicas/follower.js'
import { REPLICA_STAGING_DIR_NAME, refuseUnflushedRecords, stageUnreferencedTables } from './replicas/follower-open.js'
import { ReplicationSource } from './replicas/leader-source.js'
import { closedError, type Snapshot } from './snapshots.js'
import { TreeCore } from './tree-core.js'
import { Maintenance } from './tree-maintenance.js'
import { chooseRunner, filterModuleOf, resolveBounds, resolveOptions, type IteratorOptions, type ReadOptions } from './tree-options.js'
import { buildStats, type TreeStats } from './tree-stats.js'
import { emptyEdit } from './version/version-edit.js'
import type { VersionSet } from './version/version-set.js'
import type { FileLock } from './vfs/vfs.js'
import { batchRecordBytes, type BatchOp } from './wal/batch-record.js'
import { CommitPipeline } from './wal/commit-pipeline.js'
import { RECORD_BYTES_MAX } from './wal/format.js'
import { LogWriter } from './wal/log-writer.js'
import { BatchBuilder, WriteBatch, checkKey, type KeyInput } from './write-batch.js'

export type { ReadOptions, IteratorOptions } from './tree-options.js'

/** The two kinds of tree: a leader owns a WAL and background work, a follower a Replica. */
type Role =
  | { kind: 'leader'; pipeline: CommitPipeline; maintenance: Maintenance; runner: JobRunner; source: ReplicationSource }
  | { kind: 'follower'; replica: Replica; pinned: PinnedViews }

export class Tree {
  private readonly core: TreeCore
  /** Made once: get() is the hot path and must not allocate a closure per call. */
  private readonly tableById = (id: number): OpenTable => this.tables.get(id)
  private readonly role: Role
  private closed = false

  private constructor(
    readonly path: string,
    private readonly options: ResolvedOptions,
    private readonly lock: FileLock,
    private readonly versions: VersionSet,
    private readonly tables: TableCache,
    blockCache: BlockCache,
    lastSeqno: number,
    wal: { writer: LogWriter; number: number } | undefined,
  ) {
    const core = new TreeCore(path, options, versions, tables, blockCache, lastSeqno)
    this.core = core
    if (wal === undefined) {
      this.role = { kind: 'follower', replica: new Replica(this.replicaHost(), options.replication.memtableBytesMax), pinned: new PinnedViews(core.refs) }
      return
    }
    const runner = chooseRunner(options, () => versions.newFileNumber())
    const maintenance = new Maintenance(core, runner, wal)
    const source = new ReplicationSource(this.leaderHost(), options.replication, versions.recoveredEdits)
    versions.recoveredEdits = []
    versions.onInstall = (version, edit) => source.recordEdit(version, edit)
    const pipeline = new CommitPipeline(maintenance.commitHost((_seqno, records) => source.recordDurable(records)), lastSeqno)
    this.role = { kind: 'leader', pipeline, maintenance, runner, source }
  }

  /** Opens (and by default creates) the tree at `path`; a follower copy must exist. */
  static async open(path: string, options: TreeOptions = {}): Promise<Tree> {
    const resolved = resolveOptions(options)
    // A filter module that does not load is an error at open, not at the first compaction.
    const filterModule = filterModuleOf(resolved)
    if (filterModule !== null) await loadCompactionFilter(filterModule)
    const vfs = resolved.vfs
    await vfs.mkdirp(path)
    const lock = await vfs.lock(`${path}/LOCK`)
    try {
      return await Tree.recover(path, resolved, lock)
    } catch (error) {
      await lock.release()
      throw error
    }
  }

  private static async recover(path: string, options: ResolvedOptions, lock: FileLock): Promise<Tree> {
    const vfs = options.vfs
    const follower = options.replication.follower
    const rec = await recoverTree(vfs, path, options.mergeOperator?.name ?? null, options.createIfMissing && !follower)
    const blockCache = new BlockCache(options.blockCacheBytes)
    const tables = new TableCache(vfs, path, blockCache, options.maxOpenTables)
    try {
      if (follower) refuseUnflushedRecords(rec.memtable.isEmpty)
      for (const t of rec.versions.current.allTables()) await tables.open(t.id)
      if (follower) return await Tree.finishFollowerOpen(path, options, lock, rec.versions, tables, blockCache)
      const walNumber = rec.versions.newFileNumber()
      const writer = new LogWriter(await vfs.create(`${path}/${walFileName(walNumber)}`), walFileName(walNumber))
      await vfs.syncDir(path)
      const tree = new Tree(path, options, lock, rec.versions, tables, blockCache, rec.lastSeqno, { writer, number: walNumber })
      const { maintenance } = tree.leader()
      tree.core.counters.droppedTailBytes = rec.droppedTailBytes
      // The replayed WALs go to a level-0 table now, so that they can be removed and the next
      // recovery does not depend on their torn tails being dropped the same way again.
      await maintenance.installFlush(rec.memtable, rec.lastSeqno)
      // One more record, so that the edit that obsoleted the replayed WALs is not the last one
      // (see TreeCore `deferred`): only then are those WALs removed below.
      await tree.core.installEdit(emptyEdit())
      const current = rec.versions.current
      await removeObsoleteFiles(vfs, path, {
        tables: new Set(current.allTables().map((t) => t.id)),
        logNumber: walNumber,
        manifest: rec.versions.manifestName,
        // A torn manifest tail may have been a damaged last record naming tables: keep them.
        keepUnreferencedTables: rec.versions.manifestDroppedTailBytes > 0,
      })
      maintenance.opening = false
      maintenance.scheduler.maybeSchedule()
      return tree
    } catch (error) {
      await tables.closeAll()
      await rec.versions.close()
      throw error
    }
  }

  private static async finishFollowerOpen(
    path: string, options: ResolvedOptions, lock: FileLock, versions: VersionSet, tables: TableCache, blockCache: BlockCache,
  ): Promise<Tree> {
    const vfs = options.vfs
    const live = new Set(versions.current.allTables().map((t) => t.id))
    await stageUnreferencedTables(vfs, path, live)
    // WALs (empty: checked above), temp files and old manifests go; tables were staged above.
    await removeObsoleteFiles(vfs, path, { tables: live, logNumber: Number.MAX_SAFE_INTEGER, manifest: versions.manifestName, keepUnreferencedTables: true })
    return new Tree(path, options, lock, versions, tables, blockCache, versions.lastSeqno, undefined)
  }

  // ---- writes ----

  put(key: KeyInput, value: KeyInput): Promise<number> {
    return this.write((b) => b.put(key, value))
  }

  delete(key: KeyInput): Promise<number> {
    return this.write((b) => b.delete(key))
  }

  /** Deletes every key in [start, end). */
  deleteRange(start: KeyInput, end: KeyInput): Promise<number> {
    return this.write((b) => b.deleteRange(start, end))
  }

  merge(key: KeyInput, operand: KeyInput): Promise<number> {
    return this.write((b) => b.merge(key, operand))
  }

  batch(): WriteBatch {
    this.checkOpen()
    return new WriteBatch(new BatchBuilder(this.options.mergeOperator), (ops) => this.commit(ops))
  }

  private write(build: (b: BatchBuilder) => void): Promise<number> {
    try {
      this.checkOpen()
      const b = new BatchBuilder(this.options.mergeOperator)
      build(b)
      return this.commit(b.ops())
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private commit(ops: BatchOp[]): Promise<number> {
    if (this.closed) return Promise.reject(closedError())
    try {
      this.checkWritable()
    } catch (error) {
      return Promise.reject(error)
    }
    const { pipeline } = this.leader()
    if (ops.length === 0) return pipeline.idle().then(() => this.core.visibleSeqno)
    if (batchRecordBytes(ops) > RECORD_BYTES_MAX) {
      return Promise.reject(invalidArgument(`a batch is at most ${RECORD_BYTES_MAX} bytes encoded`))
    }
    return pipeline.commit(ops)
  }

  // ---- reads ----

  /** The newest value of `key` at the read seqno, or undefined. Synchronous. */
  get(key: KeyInput, options: ReadOptions = {}): Buffer | undefined {
    this.checkOpen()
    const k = checkKey(key)
    const seqno = this.readSeqno(options.seqno)
    return getValue(this.viewAt(seqno), this.tableById, k, seqno, this.options.mergeOperator)
  }

  iterator(options: IteratorOptions = {}): TreeIterator {
    this.checkOpen()
    const seqno = this.readSeqno(options.seqno)
    const bounds = resolveBounds(options)
    const limit = options.limit ?? Number.POSITIVE_INFINITY
    if (limit !== Number.POSITIVE_INFINITY && (!Number.isInteger(limit) || limit < 0)) throw invalidArgument('limit must be a non-negative integer')
    const view = this.viewAt(seqno)
    this.core.refs.ref(view.version)
    const sources: InternalIterator[] = [view.active.newIterator(), ...view.immutables.map((m) => m.newIterator())]
    const tombstones = [...view.active.rangeTombstones(), ...view.immutables.flatMap((m) => [...m.rangeTombstones()])]
    for (const meta of view.version.levels[0] ?? []) {
      const t = this.tables.get(meta.id)
      sources.push(t.reader.newIterator())
      tombstones.push(...t.reader.rangeTombstones)
    }
    for (let level = 1; level < LEVEL_COUNT; level++) {
      const files = view.version.levels[level] ?? []
      if (files.length === 0) continue
      const open: OpenTable[] = files.map((f) => this.tables.get(f.id))
      for (const t of open) tombstones.push(...t.reader.rangeTombstones)
      sources.push(new LevelIterator(files, (i: number) => open[i]!.reader.newIterator()))
    }
    let released = false
    return new TreeIterator({
      source: new MergingIterator(sources),
      tombstones: FragmentedTombstones.from(tombstones.filter((t) => t.seqno <= seqno)),
      seqno,
      bounds,
      reverse: options.reverse === true,
      limit,
      mergeOperator: this.options.mergeOperator,
      onClose: () => {
        if (released) return
        released = true
        this.core.refs.unref(view.version)
      },
    })
  }

  /** Pins the newest seqno: reads and scans at it stay exact until release(). */
  snapshot(): Snapshot {
    this.checkOpen()
    const core = this.core
    const snapshot = core.snapshots.acquire(core.visibleSeqno)
    if (this.role.kind === 'leader') return snapshot
    const unpin = this.role.pinned.pin(snapshot.seqno, core.view)
    return {
      seqno: snapshot.seqno,
      release: () => {
        snapshot.release()
        unpin()
      },
    }
  }

  /** The newest seqno reads see (durable on a leader, applied on a follower). */
  get seqno(): number {
    return this.core.visibleSeqno
  }

  /**
   * Reads at a seqno below this one must name a live snapshot (else SEQNO_UNAVAILABLE):
   * compaction may have collapsed the history there. It rises with compactions (and, on a
   * follower, with every installed delta) and is the newest seqno at open.
   */
  get oldestReadableSeqno(): number {
    return this.core.horizon
  }

  get treeId(): string {
    return this.versions.treeId
  }

  /** Resolves true once reads see `seqno` (read-your-writes on a follower), false after
   *  `timeoutMs` or when `signal` aborts. */
  waitForSeqno(seqno: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    this.checkOpen()
    if (!Number.isSafeInteger(seqno) || seqno < 0) return Promise.reject(invalidArgument('seqno must be a non-negative integer'))
    return this.core.waitForSeqno(seqno, timeoutMs, signal)
  }

  private readSeqno(seqno: number | undefined): number {
    const core = this.core
    if (seqno === undefined) return core.visibleSeqno
    if (!Number.isSafeInteger(seqno) || seqno < 0) throw invalidArgument('seqno must be a non-negative integer')
    if (seqno > core.visibleSeqno) throw invalidArgument(`seqno ${seqno} is ahead of the newest seqno ${core.visibleSeqno}`)
    if (seqno < core.horizon && !core.snapshots.has(seqno)) {
      throw new StrataError(
        ErrorCode.SEQNO_UNAVAILABLE,
        `history before seqno ${core.horizon} may have been compacted; pin seqno ${seqno} with a snapshot to read at it`,
      )
    }
    return seqno
  }

  /** The view a read at `seqno` uses: a follower's pinned view below its horizon. */
  private viewAt(seqno: number): ReadView {
    if (this.role.kind === 'leader' || seqno >= this.core.horizon) return this.core.view
    return this.role.pinned.viewAt(seqno) ?? this.core.view
  }

  // ---- flush, compaction, checkpoints ----

  /** Resolves once everything written so far is in tables. Returns the versionId. */
  async flush(): Promise<number> {
    this.checkWritable()
    await this.leader().maintenance.flushUpToNow(this.leader().pipeline)
    return this.versions.versionId
  }

  /**
   * Writes a checkpoint of the tree into `dir` (which must not exist): hard links of the tables
   * plus a fresh manifest, openable as an independent tree holding exactly the data at the
   * returned seqno. Writes and compaction go on meanwhile. See checkpoint.ts.
   */
  async checkpoint(dir: string): Promise<CheckpointResult> {
    this.checkWritable()
    const { maintenance, pipeline } = this.leader()
    return createCheckpoint(
      {
        vfs: this.options.vfs,
        dir: this.path,
        treeId: this.versions.treeId,
        mergeOperatorName: this.options.mergeOperator?.name ?? null,
        flushAndCapture: async () => {
          this.checkWritable()
          const seqno = await maintenance.flushUpToNow(pipeline)
          return { seqno, version: this.core.view.version }
        },
        pauseDeletions: () => this.core.refs.pauseDeletions(),
        newFileNumber: () => this.versions.newFileNumber(),
      },
      dir,
    )
  }

  /** Major compaction: every table into the last level, dropping what no snapshot can see. */
  async compact(): Promise<number> {
    await this.flush()
    await this.leader().maintenance.compact()
    return this.versions.versionId
  }

  // ---- replication ----

  /** True for a tree opened with `replication.follower`. */
  get isFollower(): boolean {
    return this.role.kind === 'follower'
  }

  /** The leader side of replication: state, deltas, leases, files, WAL records (API.md). */
  get replication(): ReplicationSource {
    this.checkOpen()
    return this.leader().source
  }

  /** The follower side: installs deltas, applies WAL records. INVALID_ARGUMENT on a leader. */
  get replica(): Replica {
    this.checkOpen()
    if (this.role.kind !== 'follower') throw invalidArgument('this tree is not a follower')
    return this.role.replica
  }

  /** Where a follower's received files wait for their delta (inside the tree directory). */
  get replicaStagingDir(): string {
    return `${this.path}/${REPLICA_STAGING_DIR_NAME}`
  }

  private leader(): Extract<Role, { kind: 'leader' }> {
    if (this.role.kind !== 'leader') throw new StrataError(ErrorCode.READ_ONLY, 'a follower is read-only: write to its leader')
    return this.role
  }

  private leaderHost(): ConstructorParameters<typeof ReplicationSource>[0] {
    const core = this.core
    return {
      vfs: this.options.vfs,
      dir: this.path,
      treeId: this.versions.treeId,
      current: () => this.versions.current,
      tablesSeqno: () => this.versions.lastSeqno,
      seqno: () => core.visibleSeqno,
      pinTables: (ids) => core.refs.pinTables(ids),
    }
  }

  private replicaHost(): ConstructorParameters<typeof Replica>[0] {
    const core = this.core
    return {
      vfs: this.options.vfs,
      dir: this.path,
      stagingDir: `${this.path}/${REPLICA_STAGING_DIR_NAME}`,
      treeId: this.versions.treeId,
      view: () => core.view,
      setMemtables: (m) => {
        core.view = { ...m, version: core.view.version }
      },
      tablesSeqno: () => this.versions.lastSeqno,
      replicatedVersionId: () => this.versions.replicatedVersionId,
      openTable: async (id) => (await this.tables.open(id)).reader,
      installEdit: async (edit, memtables) => {
        this.checkOpen()
        const version = await core.installEdit(edit, { memtables })
        if (edit.lastSeqno !== undefined && edit.lastSeqno > core.horizon) core.horizon = edit.lastSeqno
        return version
      },
      publish: (seqno) => core.publish(seqno),
    }
  }

  // ---- state ----

  /** The job runner of a leader (tests reach it to kill its workers). */
  private get runner(): JobRunner | undefined {
    return this.role.kind === 'leader' ? this.role.runner : undefined
  }

  private checkOpen(): void {
    if (this.closed) throw closedError()
  }

  private checkWritable(): void {
    this.checkOpen()
    this.leader()
    if (this.core.backgroundError) throw this.core.readOnlyError()
  }

  stats(): TreeStats {
    const core = this.core
    return buildStats({
      treeId: this.versions.treeId,
      seqno: core.visibleSeqno,
      versionId: this.versions.versionId,
      view: core.view,
      snapshots: core.snapshots.size,
      blockCache: core.blockCache.stats(),
      openTables: this.tables.openCount,
      tableHandles: this.tables.handleStats(),
      counters: core.counters,
      backgroundError: core.backgroundError,
      options: this.options,
      pendingCompactionBytes: this.role.kind === 'leader' ? this.role.maintenance.pendingCompactionBytes : 0,
      runningJobs: this.runner?.running ?? 0,
      commits: this.role.kind === 'leader' ? this.role.pipeline.counts : { groups: 0, batches: 0, walSyncs: 0 },
    })
  }

  /** Waits for writes and background work, makes the WAL durable, releases every resource. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const core = this.core
    const role = this.role
    if (role.kind === 'leader') {
      role.source.close()
      await role.pipeline.idle()
      await role.maintenance.close()
    } else {
      await role.replica.idle()
      if (!core.backgroundError && core.hasDeferredDeletions) await core.installEdit(emptyEdit()).catch((e) => core.setBackgroundError(e))
    }
    core.wakeAll()
    await Promise.all([...core.pendingDeletes])
    await this.runner?.close()
    await this.tables.closeAll()
    await this.versions.close()
    await this.lock.release()
  }
}
