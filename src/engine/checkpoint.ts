/**
 * Checkpoints (coordinode checkpoint.rs, RocksDB Checkpoint, pebble checkpoint.go): a directory
 * that opens as an independent tree holding exactly the data at the returned seqno.
 *
 * Algorithm:
 *  1. hold a deletion pause (compaction goes on; obsolete files wait);
 *  2. between commit groups, capture the seqno S and rotate the memtable; wait for it and every
 *     older memtable to reach tables; capture the Version then: its tables hold exactly the
 *     writes up to S (later writes are in newer memtables, not yet flushed);
 *  3. create the target directory (it must not exist), hard-link every table into it (a
 *     streamed copy when the link crosses devices);
 *  4. write a fresh manifest for the captured Version (not a copy of the live one, which may
 *     have moved on) and CURRENT, fsync every file and the directory;
 *  5. release the pause. On any failure the partial directory is removed.
 * The checkpoint keeps the source's treeId: it is the same history (a restore makes a new one).
 */
import { assert } from './base/assert.js'
import { StrataError, ErrorCode } from './errors.js'
import { pathInDir, tableFileName } from './filenames.js'
import { writeCurrent } from './version/current-file.js'
import { ManifestWriter, snapshotEdit } from './version/manifest.js'
import type { Version } from './version/version.js'
import type { Vfs } from './vfs/vfs.js'

export interface CheckpointResult {
  versionId: number
  seqno: number
  /** Files in the checkpoint directory (tables, manifest, CURRENT). */
  files: number
  /** Bytes of those files. */
  bytes: number
  /** Tables that had to be copied rather than linked (another device). */
  copiedTables: number
}

export interface CheckpointSource {
  vfs: Vfs
  dir: string
  treeId: string
  mergeOperatorName: string | null
  /** Flushes up to now; resolves with the seqno S and the Version holding exactly S. */
  flushAndCapture(): Promise<{ seqno: number; version: Version }>
  pauseDeletions(): () => void
  newFileNumber(): number
}

/** Bytes per read when a table must be copied. */
const COPY_CHUNK_BYTES = 1024 * 1024

async function copyFile(vfs: Vfs, from: string, to: string): Promise<void> {
  const source = await vfs.openReadable(from)
  const target = await vfs.create(to)
  try {
    for (let offset = 0; offset < source.sizeBytes; offset += COPY_CHUNK_BYTES) {
      target.append(source.readAt(offset, Math.min(COPY_CHUNK_BYTES, source.sizeBytes - offset)))
    }
    await target.sync()
  } finally {
    await target.close()
    await source.close()
  }
}

function isCrossDevice(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } }).cause
  return error instanceof StrataError && cause?.code === 'EXDEV'
}

export async function createCheckpoint(source: CheckpointSource, target: string): Promise<CheckpointResult> {
  const vfs = source.vfs
  if (await vfs.exists(target)) throw new StrataError(ErrorCode.EXISTS, 'the checkpoint directory already exists')
  const resume = source.pauseDeletions()
  let created = false
  try {
    const { seqno, version } = await source.flushAndCapture()
    for (const t of version.allTables()) assert(t.largestSeqno <= seqno, 'captured tables hold only writes up to the seqno')
    await vfs.mkdirp(target)
    created = true
    let bytes = 0
    let copiedTables = 0
    for (const t of version.allTables()) {
      const name = tableFileName(t.id)
      try {
        await vfs.link(pathInDir(source.dir, name), pathInDir(target, name))
      } catch (error) {
        if (!isCrossDevice(error)) throw error
        await copyFile(vfs, pathInDir(source.dir, name), pathInDir(target, name))
        copiedTables++
      }
      bytes += t.sizeBytes
    }
    const manifestNumber = source.newFileNumber()
    const snapshot = snapshotEdit(version, {
      treeId: source.treeId,
      mergeOperatorName: source.mergeOperatorName,
      logNumber: manifestNumber + 1,
      nextFileNumber: manifestNumber + 1,
      lastSeqno: seqno,
    })
    const manifest = await ManifestWriter.create(vfs, target, manifestNumber, snapshot)
    bytes += manifest.sizeBytes
    await manifest.close()
    await writeCurrent(vfs, target, manifest.fileName)
    await vfs.syncDir(target)
    return { versionId: version.id, seqno, files: version.tableCount() + 2, bytes, copiedTables }
  } catch (error) {
    if (created) await vfs.removeAll(target).catch(() => undefined)
    throw error
  } finally {
    resume()
  }
}
