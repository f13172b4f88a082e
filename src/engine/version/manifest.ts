/**
 * MANIFEST-<n>: the log of VersionEdits (leveldb MANIFEST, pebble version_set.go). The file is
 * log-framed (wal/log-writer.ts: 32 KiB blocks, CRC-32C per chunk); each record is one encoded
 * VersionEdit (version-edit.ts). Spec: docs/format/manifest.md.
 *
 *   +----------------------------+---------+---------+-----+
 *   | record 0: snapshot edit    | edit 1  | edit 2  | ... |     (log framing not shown)
 *   +----------------------------+---------+---------+-----+
 *
 *   snapshot edit = comparatorName 'strata.bytewise', treeId, mergeOperatorName, versionId,
 *                   logNumber, nextFileNumber, lastSeqno, every table and blob file as an add
 *
 * Invariants:
 * - Record 0 is a snapshot: replayed onto an empty Version it yields the whole Version, so a
 *   manifest stands alone (rollover, checkpoints).
 * - Only record 0 carries treeId, comparatorName and mergeOperatorName.
 * - Every record carries versionId, strictly increasing through the file.
 * - Records are appended then synced before the Version they describe is installed.
 * - A torn tail (crash mid-append) is dropped on read; a bad record followed by good ones is
 *   CORRUPTION naming the manifest.
 */
import { assert } from '../base/assert.js'
import { corruption, ErrorCode, StrataError } from '../errors.js'
import { manifestFileName, pathInDir } from '../filenames.js'
import type { Vfs } from '../vfs/vfs.js'
import { LogWriter } from '../wal/log-writer.js'
import { readLogRecords } from '../wal/log-reader.js'
import { decodeVersionEdit, encodeVersionEdit, type VersionEdit } from './version-edit.js'
import type { Version } from './version.js'

/** DO NOT CHANGE: on disk. The only comparator Strata has: bytewise on user keys. */
export const COMPARATOR_NAME = 'strata.bytewise'
/** A manifest bigger than this is not a manifest Strata wrote (rollover keeps them MiBs). */
export const MANIFEST_BYTES_MAX = 1024 * 1024 * 1024

/** The tree-wide state a snapshot edit records besides the files. */
export interface ManifestState {
  treeId: string
  mergeOperatorName: string | null
  logNumber: number
  nextFileNumber: number
  lastSeqno: number
  /** Follower only: the leader versionId the Version replicates (see version-edit.ts tag 1002). */
  replicatedVersionId?: number
}

/** The first record of a manifest: the whole `version` plus `state`. Pure. */
export function snapshotEdit(version: Version, state: ManifestState): VersionEdit {
  assert(state.treeId.length > 0, 'a tree has an id')
  assert(state.nextFileNumber >= 1, 'file numbers start at 1')
  return {
    versionId: version.id,
    comparatorName: COMPARATOR_NAME,
    treeId: state.treeId,
    mergeOperatorName: state.mergeOperatorName,
    logNumber: state.logNumber,
    nextFileNumber: state.nextFileNumber,
    lastSeqno: state.lastSeqno,
    ...(state.replicatedVersionId === undefined ? {} : { replicatedVersionId: state.replicatedVersionId }),
    addTables: version.allTables(),
    removeTables: [],
    addBlobFiles: [...version.blobFiles],
    removeBlobFiles: [],
  }
}

/** Appends edits to one manifest file. Not concurrent: the VersionSet serializes its calls. */
export class ManifestWriter {
  private constructor(
    readonly fileName: string,
    private readonly log: LogWriter,
    /** Bytes of the snapshot record; rollover waits until the edits outgrow it. */
    readonly snapshotBytes: number,
  ) {}

  /** Creates MANIFEST-<fileNumber> in `dir` holding `snapshot`, synced. */
  static async create(
    vfs: Vfs,
    dir: string,
    fileNumber: number,
    snapshot: VersionEdit,
  ): Promise<ManifestWriter> {
    assert(snapshot.comparatorName === COMPARATOR_NAME, 'a manifest starts with a snapshot edit')
    assert(snapshot.treeId !== undefined, 'a snapshot carries the tree id')
    assert(snapshot.versionId !== undefined, 'a snapshot carries the version id')
    const fileName = manifestFileName(fileNumber)
    const file = await vfs.create(pathInDir(dir, fileName))
    const log = new LogWriter(file, fileName)
    try {
      log.addRecord(encodeVersionEdit(snapshot))
      await log.sync()
    } catch (err) {
      await log.close().catch(() => undefined) // the write error is the one worth reporting
      throw err
    }
    return new ManifestWriter(fileName, log, log.sizeBytes)
  }

  get sizeBytes(): number {
    return this.log.sizeBytes
  }

  /** Appends one edit and syncs it. After a throw the file's tail is unspecified: stop using it. */
  async append(edit: VersionEdit): Promise<void> {
    assert(edit.versionId !== undefined, 'every manifest edit carries its versionId')
    assert(edit.treeId === undefined && edit.comparatorName === undefined, 'only the snapshot names the tree')
    this.log.addRecord(encodeVersionEdit(edit))
    await this.log.sync()
  }

  close(): Promise<void> {
    return this.log.close()
  }
}

export interface ManifestContents {
  edits: VersionEdit[]
  /** Where each edit's record starts in the file (for error messages). */
  offsets: number[]
  /** Bytes of whole, valid records; a torn tail after them was dropped. */
  validBytes: number
  /** Bytes of a torn tail the reader dropped (0 for a clean manifest). */
  droppedTailBytes: number
}

function checkSnapshot(first: VersionEdit | undefined, name: string): void {
  if (first === undefined) throw corruption('manifest holds no snapshot record', name, 0)
  if (first.comparatorName === undefined || first.treeId === undefined || first.versionId === undefined) {
    throw corruption('first manifest record is not a snapshot edit', name, 0)
  }
  if (first.comparatorName !== COMPARATOR_NAME) {
    throw new StrataError(
      ErrorCode.UNSUPPORTED,
      `${name}: comparator '${first.comparatorName}' is not supported (this build has '${COMPARATOR_NAME}')`,
      { file: name, offset: 0 },
    )
  }
}

/**
 * Reads and decodes MANIFEST `name` in `dir`. A torn tail is dropped; a damaged record in
 * the middle, or a first record that is not a snapshot, is CORRUPTION naming the manifest.
 */
export async function readManifest(vfs: Vfs, dir: string, name: string): Promise<ManifestContents> {
  assert(!name.includes('/'), 'a manifest is named by its base name')
  const file = await vfs.openReadable(pathInDir(dir, name))
  let data: Buffer
  try {
    if (file.sizeBytes > MANIFEST_BYTES_MAX) {
      throw corruption(`manifest is ${file.sizeBytes} bytes, over ${MANIFEST_BYTES_MAX}`, name, 0)
    }
    data = file.readAt(0, file.sizeBytes)
  } finally {
    await file.close()
  }
  const { records, offsets, validBytes, droppedTailBytes } = readLogRecords(data, name)
  assert(records.length === offsets.length, 'one offset per record')
  const edits = records.map((record, i) => decodeVersionEdit(record, name, offsets[i] as number))
  checkSnapshot(edits[0], name)
  for (let i = 1; i < edits.length; i++) {
    const edit = edits[i] as VersionEdit
    const offset = offsets[i] as number
    const hasSnapshotField =
      edit.treeId !== undefined || edit.comparatorName !== undefined || edit.mergeOperatorName !== undefined
    if (hasSnapshotField) {
      throw corruption('a snapshot field appears after the first record', name, offset)
    }
    const previous = (edits[i - 1] as VersionEdit).versionId as number
    if (edit.versionId === undefined || edit.versionId <= previous) {
      throw corruption('manifest edit without an increasing versionId', name, offset)
    }
  }
  return { edits, offsets, validBytes, droppedTailBytes }
}
