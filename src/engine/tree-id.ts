/**
 * resetTreeId(dir): gives the closed tree in `dir` a fresh treeId (API.md: a restored tree gets a
 * new one, so a follower of the original never mistakes it for the same history).
 *
 * The treeId lives only in the snapshot record (record 0) of the manifest (manifest.ts), so the
 * change is a manifest rollover done offline, with the crash-safe protocol of version-set.ts:
 *  1. take the tree's LOCK (the tree must not be open anywhere);
 *  2. recover the VersionSet (reads CURRENT and the manifest; writes nothing);
 *  3. write MANIFEST-<new number> holding a snapshot of the same Version with the new treeId,
 *     synced;
 *  4. switch CURRENT to it atomically (temp -> sync -> rename -> sync dir);
 *  5. remove the old manifest (best effort: an unreferenced manifest is removed at the next open).
 * A crash before step 4 leaves the old treeId (the new manifest is an orphan the next open
 * removes); after it, the new one. The tables, the WAL and every counter are untouched.
 */
import { randomUUID } from 'node:crypto'

import { assert } from './base/assert.js'
import { pathInDir } from './filenames.js'
import { writeCurrent } from './version/current-file.js'
import { ManifestWriter, snapshotEdit } from './version/manifest.js'
import { VersionSet } from './version/version-set.js'
import { nodeVfs } from './vfs/node-vfs.js'
import type { Vfs } from './vfs/vfs.js'

export interface ResetTreeIdResult {
  previousTreeId: string
  treeId: string
}

/**
 * Rewrites the manifest of the tree in `dir` with a new random treeId (or `treeId` when given).
 * Requires: the tree is not open (LOCKED otherwise). Throws NOT_FOUND without a tree,
 * CORRUPTION for damaged metadata, IO.
 */
export async function resetTreeId(dir: string, vfs: Vfs = nodeVfs, treeId: string = randomUUID()): Promise<ResetTreeIdResult> {
  assert(typeof dir === 'string' && dir.length > 0, 'resetTreeId needs a directory')
  assert(typeof treeId === 'string' && treeId.length > 0, 'a tree id is a non-empty string')
  const lock = await vfs.lock(`${dir}/LOCK`)
  try {
    const versions = await VersionSet.recover(vfs, dir)
    const previousTreeId = versions.treeId
    const oldManifest = versions.manifestName
    try {
      const number = versions.newFileNumber()
      const snapshot = snapshotEdit(versions.current, {
        treeId,
        mergeOperatorName: versions.mergeOperatorName,
        logNumber: versions.logNumber,
        nextFileNumber: versions.nextFileNumber,
        lastSeqno: versions.lastSeqno,
      })
      const writer = await ManifestWriter.create(vfs, dir, number, snapshot)
      await writer.close()
      assert(writer.fileName !== oldManifest, 'a new manifest number')
      await writeCurrent(vfs, dir, writer.fileName)
    } finally {
      await versions.close()
    }
    // Past the CURRENT switch the old manifest is garbage; a failed removal is retried by open.
    await vfs.remove(pathInDir(dir, oldManifest)).catch(() => undefined)
    await vfs.syncDir(dir)
    return { previousTreeId, treeId }
  } finally {
    await lock.release()
  }
}
