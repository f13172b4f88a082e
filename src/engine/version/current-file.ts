/**
 * CURRENT: the one-line file naming the live manifest (leveldb db/filename.cc SetCurrentFile).
 *
 *   +---------------------------+------+
 *   | "MANIFEST-" digits (ASCII) | "\n" |      e.g. "MANIFEST-000005\n" (16 bytes)
 *   +---------------------------+------+
 *
 * Invariants:
 * - CURRENT is only ever replaced atomically (temp -> sync -> rename -> sync dir, through
 *   vfs/atomic.ts), so after any crash it names either the old or the new manifest.
 * - The manifest it names was fully written and synced before CURRENT was switched to it.
 * - Anything else in the file (no newline, extra bytes, a non-canonical number) is CORRUPTION
 *   naming CURRENT at offset 0.
 */
import { assert } from '../base/assert.js'
import { corruption } from '../errors.js'
import { CURRENT_FILE_NAME, parseFileName, pathInDir } from '../filenames.js'
import { readWholeFile, writeFileAtomic } from '../vfs/atomic.js'
import type { Vfs } from '../vfs/vfs.js'

/** A CURRENT longer than this cannot hold a manifest name: a corrupt one is not read whole. */
export const CURRENT_BYTES_MAX = 64

function isManifestName(name: string): boolean {
  return parseFileName(name)?.type === 'manifest'
}

/** The manifest name CURRENT holds, or undefined when `dir` has no CURRENT. */
export async function readCurrent(vfs: Vfs, dir: string): Promise<string | undefined> {
  const path = pathInDir(dir, CURRENT_FILE_NAME)
  if (!(await vfs.exists(path))) return undefined
  const { sizeBytes } = await vfs.stat(path)
  if (sizeBytes > CURRENT_BYTES_MAX) {
    throw corruption(`CURRENT is ${sizeBytes} bytes, over ${CURRENT_BYTES_MAX}`, CURRENT_FILE_NAME, 0)
  }
  const text = Buffer.from(await readWholeFile(vfs, path)).toString('latin1')
  if (!text.endsWith('\n')) throw corruption('CURRENT does not end with a newline', CURRENT_FILE_NAME, 0)
  const name = text.slice(0, -1)
  if (!isManifestName(name)) throw corruption('CURRENT does not name a manifest', CURRENT_FILE_NAME, 0)
  assert(name.length + 1 <= CURRENT_BYTES_MAX, 'a manifest name fits CURRENT')
  return name
}

/** Atomically points CURRENT at `manifestName`; durable when it resolves. */
export async function writeCurrent(vfs: Vfs, dir: string, manifestName: string): Promise<void> {
  assert(isManifestName(manifestName), 'CURRENT names a manifest')
  const contents = Buffer.from(`${manifestName}\n`, 'latin1')
  assert(contents.length <= CURRENT_BYTES_MAX, 'a manifest name fits CURRENT')
  await writeFileAtomic(vfs, pathInDir(dir, CURRENT_FILE_NAME), contents)
}
