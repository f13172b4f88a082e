/**
 * The follower's directory of one replicated tree:
 *
 *     <data>/<tree>/
 *       REPLICA.json        {"formatVersion":1,"copy":"copy-000002"}: the live copy (atomic replace)
 *       copy-000002/        the live copy: an engine tree directory opened in follower mode
 *         replication-staging/   files received for a delta not installed yet (resumable)
 *       copy-000003/        a bootstrap in progress (becomes live only when complete)
 *       .restoring-*        a bootstrap unpacking (src/backup restoreArchive)
 *
 * A copy is never renamed while open: a re-bootstrap builds the next copy beside the live one
 * and switches REPLICA.json, so reads go on from the old copy until the new one is complete.
 * Anything not named by REPLICA.json is a leftover and is removed when the follower starts.
 */
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export const REPLICA_FILE_NAME = 'REPLICA.json'
export const REPLICA_FORMAT_VERSION = 1
const COPY_PATTERN = /^copy-(\d{6,})$/

export function copyName(generation: number): string {
  return `copy-${String(generation).padStart(6, '0')}`
}

/** The live copy named by REPLICA.json, or undefined (none yet, or unreadable). */
export async function readLiveCopy(treeDir: string): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(join(treeDir, REPLICA_FILE_NAME), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  try {
    const parsed = JSON.parse(text) as { formatVersion?: unknown; copy?: unknown }
    if (parsed.formatVersion !== REPLICA_FORMAT_VERSION || typeof parsed.copy !== 'string' || !COPY_PATTERN.test(parsed.copy)) return undefined
    return parsed.copy
  } catch {
    return undefined
  }
}

/** Makes `copy` the live copy: temp file, fsync, rename, fsync the directory. */
export async function writeLiveCopy(treeDir: string, copy: string): Promise<void> {
  const path = join(treeDir, REPLICA_FILE_NAME)
  const temp = `${path}.tmp`
  await writeFile(temp, JSON.stringify({ formatVersion: REPLICA_FORMAT_VERSION, copy }))
  const handle = await open(temp, 'r+')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temp, path)
  await syncDir(treeDir)
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** The next copy generation: one past every copy directory present. */
export async function nextGeneration(treeDir: string): Promise<number> {
  await mkdir(treeDir, { recursive: true })
  let max = 0
  for (const name of await readdir(treeDir)) {
    const m = COPY_PATTERN.exec(name)
    if (m !== null) max = Math.max(max, Number(m[1]))
  }
  return max + 1
}

/** Removes every entry of `treeDir` but REPLICA.json and `keep` (the live copy). */
export async function removeLeftovers(treeDir: string, keep: string | undefined): Promise<void> {
  let names: string[]
  try {
    names = await readdir(treeDir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  for (const name of names) {
    if (name === REPLICA_FILE_NAME || name === keep) continue
    await rm(join(treeDir, name), { recursive: true, force: true })
  }
}
