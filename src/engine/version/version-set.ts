/**
 * VersionSet: the current Version of one tree, its durable counters (versionId, lastSeqno,
 * logNumber, nextFileNumber), and the manifest that records them (leveldb db/version_set.cc,
 * pebble version_set.go).
 *
 * Install protocol (logAndApply), one edit at a time:
 *   1. applyEdit builds the next Version in memory (asserts; nothing is written on a bug);
 *   2. the edit is appended to the manifest and synced, or, at rollover, a new manifest holding
 *      a snapshot of the next Version is written and synced and CURRENT is switched to it;
 *   3. only then is the new Version installed and onInstall called; then obsolete manifests
 *      are removed.
 *
 * Invariants:
 * - The in-memory Version is always one the disk can recover: it changes only after step 2
 *   succeeded. After any crash, recovery yields the Version before or after the edit in flight.
 * - After a failed manifest write, the manifest is never appended to again (its tail is
 *   unspecified); the next logAndApply rolls over to a fresh manifest.
 * - The manifest CURRENT names is never removed; an old one is removed only after CURRENT was
 *   switched away from it.
 * - File numbers are never reused: newFileNumber only grows, and recovery starts above every
 *   number logged or present in the directory.
 * - versionIds grow by one per installed edit.
 */
import { AssertionError, assert } from '../base/assert.js'
import { corruption, ErrorCode, isStrataError, StrataError } from '../errors.js'
import { CURRENT_FILE_NAME, manifestFileName, parseFileName, pathInDir } from '../filenames.js'
import { MANIFEST_ROLLOVER_BYTES } from '../options.js'
import type { Vfs } from '../vfs/vfs.js'
import { applyEdit } from './compose.js'
import { readCurrent, writeCurrent } from './current-file.js'
import { ManifestWriter, readManifest, snapshotEdit, type ManifestState } from './manifest.js'
import { emptyEdit, type VersionEdit } from './version-edit.js'
import { Version } from './version.js'

export interface VersionSetOptions {
  /** Manifest size that triggers a rollover (default MANIFEST_ROLLOVER_BYTES); tests shrink it. */
  rolloverBytes?: number
}

/** The first version of a new tree; 0 is the empty Version replay starts from. */
const FIRST_VERSION_ID = 1
/** MANIFEST-000001 takes the first file number of a new tree. */
const FIRST_MANIFEST_NUMBER = 1

interface RecoveredState extends ManifestState {
  version: Version
}

function replay(edits: readonly VersionEdit[], offsets: readonly number[], name: string): RecoveredState {
  const first = edits[0]
  assert(first !== undefined && first.treeId !== undefined, 'readManifest checked the snapshot')
  const state: RecoveredState = {
    version: Version.empty(),
    treeId: first.treeId,
    mergeOperatorName: first.mergeOperatorName ?? null,
    logNumber: 0,
    nextFileNumber: 1,
    lastSeqno: 0,
  }
  edits.forEach((edit, i) => {
    if (edit.replicatedVersionId !== undefined) state.replicatedVersionId = edit.replicatedVersionId
    assert(edit.versionId !== undefined, 'readManifest checked versionIds')
    try {
      state.version = applyEdit(state.version, edit, edit.versionId)
    } catch (err) {
      if (!(err instanceof AssertionError)) throw err
      throw corruption(`edit does not apply: ${err.message}`, name, offsets[i])
    }
    if (edit.lastSeqno !== undefined) state.lastSeqno = edit.lastSeqno
    if (edit.logNumber !== undefined) state.logNumber = edit.logNumber
    if (edit.nextFileNumber !== undefined) state.nextFileNumber = edit.nextFileNumber
  })
  return state
}

/** One past the largest file number named in `dir`, in `version`, or logged. */
async function firstUnusedFileNumber(vfs: Vfs, dir: string, state: RecoveredState): Promise<number> {
  let largest = state.nextFileNumber - 1
  for (const name of await vfs.list(dir)) {
    const number = parseFileName(name)?.number
    if (number !== undefined && number > largest) largest = number
  }
  for (const table of state.version.allTables()) largest = Math.max(largest, table.id)
  for (const blob of state.version.blobFiles) largest = Math.max(largest, blob.id)
  assert(Number.isSafeInteger(largest + 1), 'file numbers stay safe integers')
  return largest + 1
}

function largestAddedId(edit: VersionEdit): number {
  let largest = 0
  for (const table of edit.addTables) largest = Math.max(largest, table.id)
  for (const blob of edit.addBlobFiles) largest = Math.max(largest, blob.id)
  return largest
}

export class VersionSet {
  readonly dir: string
  /** Called after each install with (newVersion, the logged edit); runs inside the install queue. */
  onInstall?: (version: Version, edit: VersionEdit) => void

  readonly #vfs: Vfs
  readonly #rolloverBytes: number
  readonly #treeId: string
  readonly #mergeOperatorName: string | null
  #current: Version
  #lastSeqno: number
  #logNumber: number
  #nextFileNumber: number
  #replicatedVersionId: number | undefined
  /** The manifest CURRENT names, as far as a successful switch told us. */
  #manifestName: string
  /** Open writer on #manifestName; undefined = the next install rolls over. */
  #manifest: ManifestWriter | undefined
  /** Manifests no longer named by CURRENT (or orphans of failed rollovers), to remove. */
  readonly #obsoleteManifests = new Set<string>()
  /** A CURRENT switch failed: CURRENT may name any manifest we tried, so remove none of them. */
  #currentUncertain = false
  #queue: Promise<void> = Promise.resolve()
  #closed = false

  private constructor(
    vfs: Vfs,
    dir: string,
    state: RecoveredState,
    manifestName: string,
    options: VersionSetOptions,
  ) {
    const rolloverBytes = options.rolloverBytes ?? MANIFEST_ROLLOVER_BYTES
    assert(Number.isSafeInteger(rolloverBytes) && rolloverBytes >= 0, 'rolloverBytes')
    assert(state.nextFileNumber > (parseFileName(manifestName)?.number ?? 0), 'manifest number was allocated')
    this.#vfs = vfs
    this.dir = dir
    this.#rolloverBytes = rolloverBytes
    this.#treeId = state.treeId
    this.#mergeOperatorName = state.mergeOperatorName
    this.#current = state.version
    this.#lastSeqno = state.lastSeqno
    this.#logNumber = state.logNumber
    this.#nextFileNumber = state.nextFileNumber
    this.#replicatedVersionId = state.replicatedVersionId
    this.#manifestName = manifestName
    this.#manifest = undefined
  }

  /** Creates a new tree in `dir`: MANIFEST-000001 with a snapshot of an empty Version, then CURRENT. */
  static async create(
    vfs: Vfs,
    dir: string,
    init: { treeId: string; mergeOperatorName: string | null },
    options: VersionSetOptions = {},
  ): Promise<VersionSet> {
    assert(init.treeId.length > 0, 'a tree has an id')
    await vfs.mkdirp(dir)
    if (await vfs.exists(pathInDir(dir, CURRENT_FILE_NAME))) {
      throw new StrataError(ErrorCode.EXISTS, 'a tree already exists in this directory')
    }
    const state: RecoveredState = {
      version: applyEdit(Version.empty(), emptyEdit(), FIRST_VERSION_ID),
      treeId: init.treeId,
      mergeOperatorName: init.mergeOperatorName,
      logNumber: 0,
      nextFileNumber: FIRST_MANIFEST_NUMBER + 1,
      lastSeqno: 0,
    }
    const snapshot = snapshotEdit(state.version, state)
    const writer = await ManifestWriter.create(vfs, dir, FIRST_MANIFEST_NUMBER, snapshot)
    try {
      await writeCurrent(vfs, dir, writer.fileName)
    } catch (err) {
      await writer.close().catch(() => undefined) // the CURRENT error is the one to report
      throw err
    }
    const set = new VersionSet(vfs, dir, state, writer.fileName, options)
    set.#manifest = writer
    return set
  }

  /**
   * Opens the tree in `dir`: CURRENT -> manifest -> replay. Writes nothing: the first
   * logAndApply starts a fresh manifest (so nothing is ever appended after a torn tail).
   * Throws NOT_FOUND without CURRENT, CORRUPTION (naming the file) for damaged metadata.
   */
  static async recover(vfs: Vfs, dir: string, options: VersionSetOptions = {}): Promise<VersionSet> {
    const manifestName = await readCurrent(vfs, dir)
    if (manifestName === undefined) {
      throw new StrataError(ErrorCode.NOT_FOUND, 'no tree in this directory (CURRENT is missing)')
    }
    const { edits, offsets, droppedTailBytes } = await readManifest(vfs, dir, manifestName)
    const state = replay(edits, offsets, manifestName)
    state.nextFileNumber = await firstUnusedFileNumber(vfs, dir, state)
    const set = new VersionSet(vfs, dir, state, manifestName, options)
    set.manifestDroppedTailBytes = droppedTailBytes
    set.recoveredEdits = edits.slice(1)
    return set
  }

  /**
   * Bytes of a torn manifest tail dropped at recovery. A torn tail is indistinguishable from a
   * damaged last record, so when it is non-zero the caller must not delete files the dropped
   * record might have referenced (recovery.ts keeps unreferenced tables then).
   */
  manifestDroppedTailBytes = 0

  /**
   * The edits after the snapshot record of the manifest recovery read, oldest first (consecutive
   * versionIds up to the recovered Version). Replication seeds its edit history from them so a
   * restarted leader still serves deltas; the owner may drop the array once it has read it.
   */
  recoveredEdits: VersionEdit[] = []

  get current(): Version {
    return this.#current
  }

  get versionId(): number {
    return this.#current.id
  }

  get lastSeqno(): number {
    return this.#lastSeqno
  }

  get logNumber(): number {
    return this.#logNumber
  }

  get treeId(): string {
    return this.#treeId
  }

  /** Follower only: the leader versionId the current Version replicates (undefined on a leader). */
  get replicatedVersionId(): number | undefined {
    return this.#replicatedVersionId
  }

  get mergeOperatorName(): string | null {
    return this.#mergeOperatorName
  }

  /** The manifest CURRENT names (checkpoints copy it; obsolete-file deletion must keep it). */
  get manifestName(): string {
    return this.#manifestName
  }

  /** The number newFileNumber() would return next (not durable until the next install). */
  get nextFileNumber(): number {
    return this.#nextFileNumber
  }

  /** A file number never used before in this tree. */
  newFileNumber(): number {
    const number = this.#nextFileNumber
    assert(Number.isSafeInteger(number + 1), 'file numbers stay safe integers')
    this.#nextFileNumber = number + 1
    return number
  }

  /**
   * Serialized (one at a time, queued): assigns versionId = current + 1 (a versionId in `edit`
   * is ignored), fills in nextFileNumber, appends the edit to the manifest, syncs, then
   * installs the new Version; rolls the manifest over (new MANIFEST with a snapshot edit,
   * CURRENT switched atomically, old manifest removed) once it is past the rollover size and
   * twice its snapshot record. On an I/O failure the in-memory Version is NOT changed and the
   * error is rethrown. Requires: `edit` has no snapshot fields (treeId, comparatorName,
   * mergeOperatorName); lastSeqno and logNumber, when given, do not go backwards. Returns the
   * installed Version.
   */
  logAndApply(edit: VersionEdit): Promise<Version> {
    if (this.#closed) return Promise.reject(new StrataError(ErrorCode.CLOSED, 'version set is closed'))
    const run = this.#queue.then(() => this.#logAndApplyNow(edit))
    this.#queue = run.then(
      () => undefined,
      () => undefined, // the caller gets the error through `run`; the queue moves on
    )
    return run
  }

  async #logAndApplyNow(edit: VersionEdit): Promise<Version> {
    assert(edit.treeId === undefined && edit.comparatorName === undefined, 'only snapshots name the tree')
    assert(edit.mergeOperatorName === undefined, 'the merge operator is fixed at creation')
    assert(edit.lastSeqno === undefined || edit.lastSeqno >= this.#lastSeqno, 'lastSeqno never goes back')
    assert(edit.logNumber === undefined || edit.logNumber >= this.#logNumber, 'logNumber never goes back')
    assert(
      edit.replicatedVersionId === undefined || this.#replicatedVersionId === undefined || edit.replicatedVersionId >= this.#replicatedVersionId,
      'replicatedVersionId never goes back',
    )
    const version = applyEdit(this.#current, edit, this.#current.id + 1)
    this.#nextFileNumber = Math.max(this.#nextFileNumber, edit.nextFileNumber ?? 0, largestAddedId(edit) + 1)
    const state: ManifestState = {
      treeId: this.#treeId,
      mergeOperatorName: this.#mergeOperatorName,
      logNumber: edit.logNumber ?? this.#logNumber,
      nextFileNumber: this.#nextFileNumber,
      lastSeqno: edit.lastSeqno ?? this.#lastSeqno,
    }
    const replicatedVersionId = edit.replicatedVersionId ?? this.#replicatedVersionId
    if (replicatedVersionId !== undefined) state.replicatedVersionId = replicatedVersionId
    const logged: VersionEdit = {
      ...edit,
      versionId: version.id,
      nextFileNumber: this.#nextFileNumber,
      addTables: [...edit.addTables],
      removeTables: [...edit.removeTables],
      addBlobFiles: [...edit.addBlobFiles],
      removeBlobFiles: [...edit.removeBlobFiles],
    }
    if (this.#needsRollover()) await this.#rollOver(version, state)
    else await this.#append(logged)
    this.#current = version
    this.#lastSeqno = state.lastSeqno
    this.#logNumber = state.logNumber
    this.#replicatedVersionId = replicatedVersionId
    this.onInstall?.(version, logged)
    await this.#removeObsoleteManifests()
    return version
  }

  #needsRollover(): boolean {
    const manifest = this.#manifest
    if (manifest === undefined) return true
    return manifest.sizeBytes >= Math.max(this.#rolloverBytes, 2 * manifest.snapshotBytes)
  }

  async #append(logged: VersionEdit): Promise<void> {
    const manifest = this.#manifest
    assert(manifest !== undefined, 'append needs an open manifest')
    try {
      await manifest.append(logged)
    } catch (err) {
      this.#manifest = undefined // tail unspecified: never append to this file again
      await manifest.close().catch(() => undefined) // the append error is the one to report
      throw err
    }
  }

  /** Writes a new manifest holding a snapshot of `version` and points CURRENT at it. */
  async #rollOver(version: Version, state: ManifestState): Promise<void> {
    const number = this.newFileNumber()
    const name = manifestFileName(number)
    const snapshot = snapshotEdit(version, { ...state, nextFileNumber: this.#nextFileNumber })
    let writer: ManifestWriter
    try {
      writer = await ManifestWriter.create(this.#vfs, this.dir, number, snapshot)
    } catch (err) {
      this.#obsoleteManifests.add(name) // may exist half-written; never named by CURRENT
      throw err
    }
    try {
      await writeCurrent(this.#vfs, this.dir, name)
    } catch (err) {
      // CURRENT may or may not name `name` now; the next rollover switches it again and then
      // removes this one. Until then nothing is appended anywhere.
      this.#obsoleteManifests.add(name)
      this.#currentUncertain = true
      await this.#closeManifest()
      await writer.close().catch(() => undefined) // the CURRENT error is the one to report
      throw err
    }
    await this.#closeManifest()
    this.#obsoleteManifests.add(this.#manifestName)
    this.#obsoleteManifests.delete(name)
    this.#manifestName = name
    this.#manifest = writer
    this.#currentUncertain = false
  }

  /** Closes the writer on the old manifest, which is obsolete or must no longer be used. */
  async #closeManifest(): Promise<void> {
    const manifest = this.#manifest
    this.#manifest = undefined
    // Closing a manifest that is no longer appended to cannot lose data: ignore its error.
    if (manifest !== undefined) await manifest.close().catch(() => undefined)
  }

  /** Removes obsolete manifests; one that cannot be removed now is retried after the next install. */
  async #removeObsoleteManifests(): Promise<void> {
    if (this.#currentUncertain) return
    for (const name of [...this.#obsoleteManifests]) {
      assert(name !== this.#manifestName, 'the live manifest is never obsolete')
      try {
        await this.#vfs.remove(pathInDir(this.dir, name))
        this.#obsoleteManifests.delete(name)
      } catch (err) {
        if (!isStrataError(err, ErrorCode.NOT_FOUND)) continue
        this.#obsoleteManifests.delete(name)
      }
    }
  }

  /** Waits for queued installs, then closes the manifest. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true
    await this.#queue
    await this.#removeObsoleteManifests()
    const manifest = this.#manifest
    this.#manifest = undefined
    if (manifest !== undefined) await manifest.close()
  }
}
