/**
 * Whole-file helpers on a Vfs: the metadata replace protocol of DESIGN.md ("temp -> fsync ->
 * rename -> fsync dir", pebble vfs/atomicfs) and a whole-file read.
 *
 * Invariants of writeFileAtomic, for a crash at any point:
 * - `path` holds either its old content (or is absent if it had none) or all of `data`, never a
 *   mix: the new bytes are durable (sync) before the rename publishes them, and the rename is
 *   durable once the parent directory is synced.
 * - The temporary file is `path + '.tmp'`. On failure it is removed best-effort; a crash can leave
 *   it behind, so readers ignore (and recovery may remove) names ending in `.tmp`.
 * - When it resolves, the new content survives power loss.
 */
import { dirname } from 'node:path'

import { assert } from '../base/assert.js'
import type { Vfs } from './vfs.js'

/** Suffix of the temporary file writeFileAtomic writes before the rename. */
export const ATOMIC_TEMP_SUFFIX = '.tmp'

/** Replaces the content of `path` with `data`, atomically and durably (see the file comment). */
export async function writeFileAtomic(vfs: Vfs, path: string, data: Uint8Array): Promise<void> {
  assert(path.length > 0 && !path.endsWith(ATOMIC_TEMP_SUFFIX), 'writeFileAtomic: bad target path')
  assert(data instanceof Uint8Array, 'writeFileAtomic: data must be a Uint8Array')
  const tempPath = path + ATOMIC_TEMP_SUFFIX
  try {
    const file = await vfs.create(tempPath)
    try {
      file.append(data)
      await file.sync()
    } catch (err) {
      await file.close().catch(() => undefined) // the write's error is the one to report
      throw err
    }
    assert(file.sizeBytes === data.length, 'writeFileAtomic: size after write')
    await file.close()
    await vfs.rename(tempPath, path)
  } catch (err) {
    await vfs.remove(tempPath).catch(() => undefined)
    throw err
  }
  await vfs.syncDir(dirname(path))
}

/** Reads the whole file at `path` into a buffer the caller owns. */
export async function readWholeFile(vfs: Vfs, path: string): Promise<Buffer> {
  const file = await vfs.openReadable(path)
  try {
    const data = file.readAt(0, file.sizeBytes)
    assert(data.length === file.sizeBytes, 'readWholeFile: short read')
    return data
  } finally {
    await file.close()
  }
}
