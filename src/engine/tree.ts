/**
 * Tree: the engine's public object. A thin orchestrator (STYLE rule 1): it validates calls and
 * owns the state; the write path is wal/commit-pipeline.ts, point reads read-path.ts, scans
 * iterator/user-iterator.ts, flush and compaction compaction/jobs.ts, opening recovery.ts.
 *
 * State and its invariants:
 * - `view` (active memtable, immutable memtables newest first, current Version) is replaced as
 *   a whole, synchronously; reads capture it once.
 * - `visibleSeqno` is the newest durable seqno; every read is bounded by it.
 * - `horizon`: history below it may have been collapsed by compaction; a read at an older seqno
 *   must name a live snapshot. On open it is the recovered last seqno (snapshots do not survive
 *   a restart).
 * - After a background failure (`backgroundError`) the tree is read-only: reads go on, writes
 *   reject with READ_ONLY and the cause; a reopen recovers from the WAL and manifest.
 */
import { assert } from './base/assert.js'
import { copyBytes, prefixSuccessor, toBuffer } from './base/bytes.js'
import { KeyKind } from './base/internal-key.js'
import { BlockCache } from './cache/block-cache.js'
import { TableCache, type OpenTable } from './cache/table-cache.js'
import { createCheckpoint, type CheckpointResult } from './checkpoint.js'
import { encodeEntryStream } from './compaction/entry-stream.js'
import { CompactionScheduler } from './compaction/scheduler.js'
import { DEFAULT_COMPACTION_OPTIONS, checkCompactionOptions, pendingCompactionBytes, writeStall, type CompactionOptions } from './compaction/picker.js'
import type { JobCommon } from './compaction/job.js'
import { InlineRunner, WorkerRunner, type JobRunner } from './compaction/job-runner.js'
import {
  isCompactionFilterModule,
  loadCompactionFilter,
  validateCompactionFilterOption,
  type CompactionFilterModule,
} from './compaction/compaction-filter.js'
import { StrataError, ErrorCode, invalidArgument } from './errors.js'
import { FileReferences } from './file-references.js'
import { tableFileName, walFileName } from './filenames.js'
import type { InternalIterator } from './iterator/internal-iterator.js'
import { LevelIterator } from './iterator/level-iterator.js'
import { MergingIterator } from './iterator/merging-iterator.js'
import { FragmentedTombstones } from './iterator/range-tombstones.js'
import { TreeIterator, type IteratorBounds } from './iterator/user-iterator.js'
import { Memtable } from './memtable/memtable.js'
import { resolveMergeOperator } from './merge/builtins.js'
import { DEFAULTS, LEVEL_COUNT, checkRange, type ResolvedOptions, type TreeOptions } from './options.js'
import { getValue } from './read-path.js'
import type { ReadView } from './read-view.js'
import { recoverTree, removeObsoleteFiles } from './recovery.js'
import { SnapshotList, closedError, type Snapshot } from './snapshots.js'
import type { Version } from './version/version.js'
import type { TableMeta } from './version/file-metadata.js'
import { emptyEdit, type VersionEdit } from './version/version-edit.js'
import type { VersionSet } from './version/version-set.js'
import type { FileLock } from './vfs/vfs.js'
import { NodeVfs, nodeVfs } from './vfs/node-vfs.js'
import { batchRecordBytes, type BatchOp } from './wal/batch-record.js'
import { RECORD_BYTES_MAX } from './wal/format.js'
import { CommitPipeline, type CommitHost } from './wal/commit-pipeline.js'
import { LogWriter } from './wal/log-writer.js'
import { BatchBuilder, WriteBatch, checkKey, type KeyInput } from './write-batch.js'
import type { TreeStats } from './tree-stats.js'
import { buildStats } from './tree-stats.js'

export interface ReadOptions {
  /** Read as of this seqno (default: the newest). */
  seqno?: number
}

export interface IteratorOptions extends ReadOptions {
  gt?: KeyInput
  gte?: KeyInput
  lt?: KeyInput
  lte?: KeyInput
  prefix?: KeyInput
  reverse?: boolean
  limit?: number
}

function resolveCompaction(options: TreeOptions): CompactionOptions {
  const given = typeof options.compaction === 'string' ? { strategy: options.compaction } : (options.compaction ?? {})
  const tableBytes = given.tableBytes ?? options.tableBytes ?? DEFAULTS.tableBytes
  const base = DEFAULT_COMPACTION_OPTIONS
  return checkCompactionOptions({
    ...base,
    ...given,
    tableBytes,
    levelBaseBytes: given.levelBaseBytes ?? 4 * tableBytes,
    maxCompactionBytes: given.maxCompactionBytes ?? 25 * tableBytes,
    tiered: { ...base.tiered, ...given.tiered },
    fifo: { ...base.fifo, ...given.fifo },
  })
}

function filterModuleOf(options: ResolvedOptions): CompactionFilterModule | null {
  const f = options.compactionFilter
  return f !== undefined && isCompactionFilterModule(f) ? f : null
}

function resolveOptions(options: TreeOptions): ResolvedOptions {
  const sync = options.sync ?? DEFAULTS.sync
  if (sync !== 'always' && sync !== 'none') throw invalidArgument("option sync must be 'always' or 'none'")
  const compression = options.compression ?? DEFAULTS.compression
  if (compression !== 'none' && compression !== 'zstd') throw invalidArgument("option compression must be 'none' or 'zstd'")
  return {
    vfs: options.vfs ?? nodeVfs,
    sync,
    mergeOperator: resolveMergeOperator(options.mergeOperator),
    compression,
    zstdLevel: checkRange('zstdLevel', options.zstdLevel ?? DEFAULTS.zstdLevel, 1, 19),
    memtableBytes: checkRange('memtableBytes', options.memtableBytes ?? DEFAULTS.memtableBytes, 4096, 2 ** 31),
    blockBytes: checkRange('blockBytes', options.blockBytes ?? DEFAULTS.blockBytes, 256, 4 * 1024 * 1024),
    tableBytes: checkRange('tableBytes', options.tableBytes ?? DEFAULTS.tableBytes, 4096, 2 ** 40),
    filterBitsPerKey: checkRange('filterBitsPerKey', options.filterBitsPerKey ?? DEFAULTS.filterBitsPerKey, 0, 32),
    blockCacheBytes: checkRange('blockCacheBytes', options.blockCacheBytes ?? DEFAULTS.blockCacheBytes, 0, 2 ** 40),
    createIfMissing: options.createIfMissing ?? DEFAULTS.createIfMissing,
    backgroundThreads: checkRange('backgroundThreads', options.backgroundThreads ?? DEFAULTS.backgroundThreads, 0, 16),
    compaction: resolveCompaction(options),
    immutableMemtablesMax: checkRange('immutableMemtablesMax', options.immutableMemtablesMax ?? DEFAULTS.immutableMemtablesMax, 1, 64),
    compactionFilter: validateCompactionFilterOption(options.compactionFilter),
    maxOpenTables: checkRange('maxOpenTables', options.maxOpenTables ?? DEFAULTS.maxOpenTables, 1, 1_000_000),
  }
}

export class Tree {
  private view: ReadView
  private wal: LogWriter
  private walNumber: number
  private readonly immutableWals = new Map<Memtable, number>()
  private readonly pipeline: CommitPipeline
  private visibleSeqno: number
  private horizon: number
  private readonly snapshots = new SnapshotList()
  private readonly refs: FileReferences
  private backgroundError: StrataError | undefined
  private closed = false
  private flushChain: Promise<void> = Promise.resolve()
  private compactChain: Promise<void> = Promise.resolve()
  private readonly pendingDeletes = new Set<Promise<void>>()
  private readonly counters = { flushes: 0, compactions: 0, bytesFlushed: 0, bytesCompacted: 0, droppedTailBytes: 0, cleanupErrors: 0, stalls: 0, trivialMoves: 0 }

  private constructor(
    readonly path: string,
    private readonly options: ResolvedOptions,
    private readonly lock: FileLock,
    private readonly versions: VersionSet,
    private readonly tables: TableCache,
    private readonly blockCache: BlockCache,
    init: { wal: LogWriter; walNumber: number; lastSeqno: number },
  ) {
    this.wal = init.wal
    this.walNumber = init.walNumber
    this.visibleSeqno = init.lastSeqno
    this.horizon = init.lastSeqno
    this.refs = new FileReferences((ids) => this.deleteTables(ids))
    this.refs.ref(versions.current)
    this.view = { active: new Memtable(), immutables: [], version: versions.current }
    this.pipeline = new CommitPipeline(this.commitHost(), init.lastSeqno)
    this.runner = Tree.chooseRunner(options, () => versions.newFileNumber())
    this.scheduler = new CompactionScheduler(this.schedulerHost(), options.compaction, options.backgroundThreads)
  }

  private readonly runner: JobRunner
  private readonly scheduler: CompactionScheduler
  /** Set once close() has drained writes: no new background work starts after it. */
  private stopping = false
  /** True until open() has removed obsolete files: no compaction may create files before that. */
  private opening = true
  private changeWaiters: (() => void)[] = []

  /** Workers need the node Vfs, a built-in (or no) merge operator and no filter object (a
   *  filter module is fine); else jobs run inline. */
  private static chooseRunner(options: ResolvedOptions, newFileNumber: () => number): JobRunner {
    const op = options.mergeOperator
    const builtin = op === undefined || resolveMergeOperator(op.name) === op
    const filter = options.compactionFilter
    const filterObject = filter !== undefined && !isCompactionFilterModule(filter) ? filter : undefined
    if (options.vfs instanceof NodeVfs && builtin && filterObject === undefined && options.backgroundThreads > 0) {
      return new WorkerRunner(options.backgroundThreads, newFileNumber)
    }
    return new InlineRunner(options.vfs, newFileNumber, op, filterObject)
  }

  /** Opens (and by default creates) the tree at `path`. */
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
    const rec = await recoverTree(vfs, path, options.mergeOperator?.name ?? null, options.createIfMissing)
    const blockCache = new BlockCache(options.blockCacheBytes)
    const tables = new TableCache(vfs, path, blockCache, options.maxOpenTables)
    try {
      for (const t of rec.versions.current.allTables()) await tables.open(t.id)
      const walNumber = rec.versions.newFileNumber()
      const wal = new LogWriter(await vfs.create(`${path}/${walFileName(walNumber)}`), walFileName(walNumber))
      await vfs.syncDir(path)
      const tree = new Tree(path, options, lock, rec.versions, tables, blockCache, { wal, walNumber, lastSeqno: rec.lastSeqno })
      tree.counters.droppedTailBytes = rec.droppedTailBytes
      // The replayed WALs go to a level-0 table now, so that they can be removed and the next
      // recovery does not depend on their torn tails being dropped the same way again.
      await tree.installFlush(rec.memtable, rec.lastSeqno)
      // One more record, so that the edit that obsoleted the replayed WALs is not the last one
      // (see `deferred`): only then are those WALs removed below.
      await tree.installEdit(emptyEdit())
      const current = rec.versions.current
      await removeObsoleteFiles(vfs, path, {
        tables: new Set(current.allTables().map((t) => t.id)),
        logNumber: walNumber,
        manifest: rec.versions.manifestName,
        // A torn manifest tail may have been a damaged last record naming tables: keep them.
        keepUnreferencedTables: rec.versions.manifestDroppedTailBytes > 0,
      })
      tree.opening = false
      tree.scheduler.maybeSchedule()
      return tree
    } catch (error) {
      await tables.closeAll()
      await rec.versions.close()
      throw error
    }
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
    if (this.backgroundError) return Promise.reject(this.readOnlyError())
    if (ops.length === 0) return this.pipeline.idle().then(() => this.visibleSeqno)
    if (batchRecordBytes(ops) > RECORD_BYTES_MAX) {
      return Promise.reject(invalidArgument(`a batch is at most ${RECORD_BYTES_MAX} bytes encoded`))
    }
    return this.pipeline.commit(ops)
  }

  // ---- reads ----

  /** The newest value of `key` at the read seqno, or undefined. Synchronous. */
  get(key: KeyInput, options: ReadOptions = {}): Buffer | undefined {
    this.checkOpen()
    const k = checkKey(key)
    const seqno = this.readSeqno(options.seqno)
    return getValue(this.view, (id) => this.tables.get(id), k, seqno, this.options.mergeOperator)
  }

  iterator(options: IteratorOptions = {}): TreeIterator {
    this.checkOpen()
    const seqno = this.readSeqno(options.seqno)
    const bounds = resolveBounds(options)
    const limit = options.limit ?? Number.POSITIVE_INFINITY
    if (limit !== Number.POSITIVE_INFINITY && (!Number.isInteger(limit) || limit < 0)) throw invalidArgument('limit must be a non-negative integer')
    const view = this.view
    this.refs.ref(view.version)
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
        this.refs.unref(view.version)
      },
    })
  }

  /** Pins the newest seqno: reads and scans at it stay exact until release(). */
  snapshot(): Snapshot {
    this.checkOpen()
    return this.snapshots.acquire(this.visibleSeqno)
  }

  /** The newest durable seqno. */
  get seqno(): number {
    return this.visibleSeqno
  }

  /**
   * Reads at a seqno below this one must name a live snapshot (else SEQNO_UNAVAILABLE):
   * compaction may have collapsed the history there. It rises with compactions and is the
   * newest seqno at open (snapshots do not survive a restart).
   */
  get oldestReadableSeqno(): number {
    return this.horizon
  }

  get treeId(): string {
    return this.versions.treeId
  }

  private readSeqno(seqno: number | undefined): number {
    if (seqno === undefined) return this.visibleSeqno
    if (!Number.isSafeInteger(seqno) || seqno < 0) throw invalidArgument('seqno must be a non-negative integer')
    if (seqno > this.visibleSeqno) throw invalidArgument(`seqno ${seqno} is ahead of the newest seqno ${this.visibleSeqno}`)
    if (seqno < this.horizon && !this.snapshots.has(seqno)) {
      throw new StrataError(
        ErrorCode.SEQNO_UNAVAILABLE,
        `history before seqno ${this.horizon} may have been compacted; pin seqno ${seqno} with a snapshot to read at it`,
      )
    }
    return seqno
  }

  // ---- flush and compaction ----

  /** Resolves once everything written so far is in tables. Returns the versionId. */
  async flush(): Promise<number> {
    await this.flushUpToNow()
    return this.versions.versionId
  }

  /**
   * Rotates the active memtable (between commit groups) and waits until it, and every older
   * memtable, is in a table. Returns the seqno everything up to which is now in tables.
   */
  private async flushUpToNow(): Promise<number> {
    this.checkWritable()
    let seqno = 0
    await this.pipeline.barrier(async () => {
      seqno = this.visibleSeqno
      if (!this.view.active.isEmpty) await this.rotate()
    })
    await this.flushChain
    if (this.backgroundError) throw this.readOnlyError()
    return seqno
  }

  /**
   * Writes a checkpoint of the tree into `dir` (which must not exist): hard links of the tables
   * plus a fresh manifest, openable as an independent tree holding exactly the data at the
   * returned seqno. Writes and compaction go on meanwhile. See checkpoint.ts.
   */
  async checkpoint(dir: string): Promise<CheckpointResult> {
    this.checkWritable()
    return createCheckpoint(
      {
        vfs: this.options.vfs,
        dir: this.path,
        treeId: this.versions.treeId,
        mergeOperatorName: this.options.mergeOperator?.name ?? null,
        flushAndCapture: async () => {
          const seqno = await this.flushUpToNow()
          return { seqno, version: this.view.version }
        },
        pauseDeletions: () => this.refs.pauseDeletions(),
        newFileNumber: () => this.versions.newFileNumber(),
      },
      dir,
    )
  }

  /** Major compaction: every table into the last level, dropping what no snapshot can see. */
  async compact(): Promise<number> {
    await this.flush()
    const run = this.compactChain.then(async () => {
      const resume = await this.scheduler.pause()
      try {
        await this.majorCompaction()
      } finally {
        resume()
      }
    })
    this.compactChain = run.catch(() => undefined)
    await run
    return this.versions.versionId
  }

  private async majorCompaction(): Promise<void> {
    this.checkWritable()
    const version = this.view.version
    const inputs = version.allTables()
    if (inputs.length === 0) return
    this.refs.ref(version)
    try {
      const visibleAtStart = this.visibleSeqno
      const { tables: outputs } = await this.runner.run({
        type: 'compact',
        ...this.jobCommon(),
        inputs: inputs.map((t) => ({ id: t.id, level: t.level })),
        outputLevel: LEVEL_COUNT - 1,
        bottommost: true,
        snapshots: this.snapshots.seqnos(),
      })
      for (const t of outputs) await this.tables.open(t.id)
      await this.options.vfs.syncDir(this.path) // the manifest must never name a table the directory may lose
      await this.installEdit({
        addTables: outputs,
        removeTables: inputs.map((t) => ({ level: t.level, id: t.id })),
        addBlobFiles: [],
        removeBlobFiles: [],
      })
      if (visibleAtStart > this.horizon) this.horizon = visibleAtStart
      this.counters.compactions++
      this.counters.bytesCompacted += outputs.reduce((n, t) => n + t.sizeBytes, 0)
    } catch (error) {
      this.setBackgroundError(error)
      throw this.readOnlyError()
    } finally {
      this.refs.unref(version)
    }
  }

  private jobCommon(): JobCommon {
    return {
      dir: this.path,
      tableBytes: this.options.tableBytes,
      mergeOperatorName: this.options.mergeOperator?.name ?? null,
      compactionFilter: filterModuleOf(this.options),
      builder: {
        blockBytes: this.options.blockBytes,
        compression: this.options.compression,
        zstdLevel: this.options.zstdLevel,
        filterBitsPerKey: this.options.filterBitsPerKey,
      },
    }
  }

  /** Turns the active memtable immutable and starts a new WAL. Runs inside a pipeline barrier. */
  private async rotate(): Promise<void> {
    const vfs = this.options.vfs
    const number = this.versions.newFileNumber()
    const name = walFileName(number)
    const file = await vfs.create(`${this.path}/${name}`)
    await vfs.syncDir(this.path)
    const old = this.wal
    const mem = this.view.active
    this.immutableWals.set(mem, this.walNumber)
    this.wal = new LogWriter(file, name)
    this.walNumber = number
    this.view = { active: new Memtable(), immutables: [mem, ...this.view.immutables], version: this.view.version }
    if (this.options.sync === 'none') await old.sync()
    await old.close()
    this.scheduleFlush()
  }

  private scheduleFlush(): void {
    this.flushChain = this.flushChain
      .then(() => this.flushOldest())
      .catch((error) => this.setBackgroundError(error))
  }

  private async flushOldest(): Promise<void> {
    if (this.backgroundError) return
    const imms = this.view.immutables
    const mem = imms[imms.length - 1]
    if (mem === undefined) return
    await this.installFlush(mem, mem.largestSeqno)
  }

  /** Writes `mem` to level 0 and installs it, advancing the WAL log number past it. */
  private async installFlush(mem: Memtable, lastSeqno: number): Promise<void> {
    let meta: TableMeta | undefined
    if (!mem.isEmpty) {
      const entries = await encodeEntryStream(mem.newIterator(), mem.approximateBytes)
      const result = await this.runner.run({ type: 'flush', ...this.jobCommon(), entries, tombstones: [...mem.rangeTombstones()] })
      meta = result.tables[0]
    }
    if (meta) {
      await this.tables.open(meta.id)
      await this.options.vfs.syncDir(this.path)
    }
    const remaining = this.view.immutables.filter((m) => m !== mem)
    const oldest = remaining[remaining.length - 1]
    const logNumber = oldest === undefined ? this.walNumber : this.immutableWals.get(oldest)!
    const edit: VersionEdit = {
      addTables: meta ? [meta] : [],
      removeTables: [],
      addBlobFiles: [],
      removeBlobFiles: [],
      logNumber,
      lastSeqno: Math.max(lastSeqno, this.versions.lastSeqno),
    }
    await this.installEdit(edit, mem)
    this.counters.flushes++
    this.counters.bytesFlushed += meta?.sizeBytes ?? 0
    const walNumber = this.immutableWals.get(mem)
    this.immutableWals.delete(mem)
    if (walNumber !== undefined) this.deferred.wals.push(walNumber)
  }

  /** Logs `edit`, installs the Version it produces, and drops `flushed` from the immutables. */
  private async installEdit(edit: VersionEdit, flushed?: Memtable): Promise<Version> {
    const due = this.deferred
    this.deferred = { tables: [], wals: [] }
    const version = await this.versions.logAndApply(edit)
    const old = this.view.version
    this.refs.ref(version)
    this.view = {
      active: this.view.active,
      immutables: flushed ? this.view.immutables.filter((m) => m !== flushed) : this.view.immutables,
      version,
    }
    this.refs.unref(old)
    this.notifyChange()
    this.scheduler.maybeSchedule()
    this.runDeletions(due)
    return version
  }

  /**
   * Files made obsolete by an edit are deleted only once a LATER manifest record is durable.
   * The last record of a manifest cannot be told apart from a torn write if media damages it;
   * recovery then drops it and rolls the Version back one edit, and the files that edit made
   * obsolete (a WAL it flushed, the inputs of a compaction) must still be there.
   */
  private deferred: { tables: number[]; wals: number[] } = { tables: [], wals: [] }

  private runDeletions(due: { tables: number[]; wals: number[] }): void {
    const jobs = [
      ...due.tables.map((id) => this.tables.close(id).then(() => this.removeFile(tableFileName(id)))),
      ...due.wals.map((n) => this.removeFile(walFileName(n))),
    ]
    for (const p of jobs) {
      this.pendingDeletes.add(p)
      void p.finally(() => this.pendingDeletes.delete(p))
    }
  }

  /** Wakes writers waiting on a write stall (a Version changed or the tree failed). */
  private notifyChange(): void {
    for (const w of this.changeWaiters.splice(0)) w()
  }

  private waitForChange(): Promise<void> {
    return new Promise((resolve) => this.changeWaiters.push(resolve))
  }

  /** Backpressure before a commit group: slow down or wait while L0 or the memtables pile up. */
  private async applyWriteStall(): Promise<void> {
    for (;;) {
      if (this.backgroundError) throw this.readOnlyError()
      const stall = writeStall(this.view.version, this.view.immutables.length, {
        ...this.options.compaction,
        immutableMemtablesMax: this.options.immutableMemtablesMax,
      })
      if (stall.state === 'none') return
      this.counters.stalls++
      if (stall.state === 'slowdown') {
        await new Promise((resolve) => setTimeout(resolve, stall.delayMs))
        return
      }
      await this.waitForChange()
    }
  }

  private schedulerHost(): import('./compaction/scheduler.js').SchedulerHost {
    return {
      version: () => this.view.version,
      snapshots: () => this.snapshots.seqnos(),
      visibleSeqno: () => this.visibleSeqno,
      runner: this.runner,
      jobCommon: () => this.jobCommon(),
      prepareTables: async (tables) => {
        for (const t of tables) await this.tables.open(t.id)
        if (tables.length > 0) await this.options.vfs.syncDir(this.path)
      },
      install: async (edit) => {
        await this.installEdit(edit)
      },
      raiseHorizon: (seqno) => {
        if (seqno > this.horizon) this.horizon = seqno
      },
      fail: (error) => this.setBackgroundError(error),
      canRun: () => !this.opening && !this.stopping && this.backgroundError === undefined,
      record: (task, bytesWritten) => {
        this.counters.compactions++
        this.counters.bytesCompacted += bytesWritten
        if (task.kind === 'move') this.counters.trivialMoves++
      },
    }
  }

  private deleteTables(ids: number[]): void {
    this.deferred.tables.push(...ids)
  }

  private async removeFile(name: string): Promise<void> {
    try {
      await this.options.vfs.remove(`${this.path}/${name}`)
    } catch (error) {
      // An obsolete file left behind is removed at the next open; it never affects data.
      if (!(error instanceof StrataError && error.code === ErrorCode.NOT_FOUND)) this.counters.cleanupErrors++
    }
  }

  // ---- state ----

  private commitHost(): CommitHost {
    return {
      syncPolicy: this.options.sync,
      beforeGroup: async () => {
        await this.applyWriteStall()
        if (this.view.active.approximateBytes >= this.options.memtableBytes) await this.rotate()
      },
      currentWal: () => this.wal,
      apply: (seqno, ops) => {
        const mem = this.view.active
        for (const op of ops) {
          if (op.kind === KeyKind.RangeDelete) mem.addRangeTombstone(op.key, op.value, seqno)
          else mem.add(op.key, seqno, op.kind, op.value)
        }
      },
      publish: (seqno) => {
        assert(seqno > this.visibleSeqno, 'published seqnos increase')
        this.visibleSeqno = seqno
      },
      fail: (error) => this.setBackgroundError(error),
    }
  }

  private setBackgroundError(error: unknown): void {
    if (this.backgroundError) return
    const cause = error instanceof StrataError ? error : new StrataError(ErrorCode.IO, String(error), { cause: error })
    this.backgroundError = cause
    this.notifyChange()
  }

  private readOnlyError(): StrataError {
    const cause = this.backgroundError
    return new StrataError(ErrorCode.READ_ONLY, `the tree is read-only after a background failure: ${cause?.message}`, { cause })
  }

  private checkOpen(): void {
    if (this.closed) throw closedError()
  }

  private checkWritable(): void {
    this.checkOpen()
    if (this.backgroundError) throw this.readOnlyError()
  }

  stats(): TreeStats {
    return buildStats({
      treeId: this.versions.treeId,
      seqno: this.visibleSeqno,
      versionId: this.versions.versionId,
      view: this.view,
      snapshots: this.snapshots.size,
      blockCache: this.blockCache.stats(),
      openTables: this.tables.openCount,
      tableHandles: this.tables.handleStats(),
      counters: this.counters,
      backgroundError: this.backgroundError,
      options: this.options,
      pendingCompactionBytes: pendingCompactionBytes(this.view.version, this.options.compaction),
      runningJobs: this.runner.running,
    })
  }

  /** Waits for writes and background work, makes the WAL durable, releases every resource. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.pipeline.idle()
    this.stopping = true
    await this.flushChain
    await this.compactChain
    await this.scheduler.idle()
    if (!this.backgroundError && (this.deferred.tables.length > 0 || this.deferred.wals.length > 0)) {
      await this.installEdit(emptyEdit()).catch((e) => this.setBackgroundError(e))
    }
    if (!this.backgroundError) await this.wal.sync().catch((e) => this.setBackgroundError(e))
    await this.wal.close()
    await Promise.all([...this.pendingDeletes])
    await this.runner.close()
    await this.tables.closeAll()
    await this.versions.close()
    await this.lock.release()
  }
}

function bound(value: KeyInput | undefined, name: string): Buffer | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw invalidArgument(`${name} must be a Uint8Array or a string`)
  return copyBytes(toBuffer(value))
}

function resolveBounds(options: IteratorOptions): IteratorBounds {
  const out: IteratorBounds = {}
  const gt = bound(options.gt, 'gt')
  const gte = bound(options.gte, 'gte')
  const lt = bound(options.lt, 'lt')
  const lte = bound(options.lte, 'lte')
  const prefix = bound(options.prefix, 'prefix')
  if (gte !== undefined) out.lower = gte
  if (gt !== undefined && (out.lower === undefined || Buffer.compare(gt, out.lower) >= 0)) {
    out.lower = gt
    out.lowerExclusive = true
  }
  if (lt !== undefined) out.upper = lt
  if (lte !== undefined && (out.upper === undefined || Buffer.compare(lte, out.upper) < 0)) {
    out.upper = lte
    out.upperInclusive = true
  }
  if (prefix !== undefined && prefix.length > 0) {
    if (out.lower === undefined || Buffer.compare(prefix, out.lower) > 0) {
      out.lower = prefix
      out.lowerExclusive = false
    }
    const end = prefixSuccessor(prefix)
    if (end !== undefined && (out.upper === undefined || Buffer.compare(end, out.upper) <= 0)) {
      out.upper = end
      out.upperInclusive = false
    }
  }
  return out
}
