/**
 * SHA-256 of the files of a checkpoint, hashed in a worker thread (hash-worker.ts), with a cache
 * by inode.
 *
 * Why a cache: BACKUP.json comes first in the archive, so every file is hashed before the first
 * byte is sent. A checkpoint's tables are hard links of the live tree's immutable tables, so the
 * same inode is hashed again by every later backup of the tree. The cache key is (device, inode,
 * size, mtime): a table is never modified after it is published (DESIGN.md: nothing is
 * overwritten in place), and a new file gets a new inode or a new mtime. Linking a file changes
 * its ctime, not its mtime, so the key survives the links checkpoints make.
 */
import { open } from 'node:fs/promises'

import { sha256InWorker } from './hash-worker.js'

/** Hashes remembered: ~100 bytes each, so 8 MiB at most. */
export const HASH_CACHE_ENTRIES_MAX = 65_536

const cache = new Map<string, string>()

export interface FileDigest {
  size: number
  sha256: string
}

/** SHA-256 (lowercase hex) and size of the regular file at `path`. Throws if it is not one. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<FileDigest> {
  const handle = await open(path, 'r')
  try {
    const stat = await handle.stat({ bigint: true })
    if (!stat.isFile()) throw new Error('not a regular file')
    const size = Number(stat.size)
    const key = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}`
    const known = cache.get(key)
    if (known !== undefined) {
      // LRU: move to the back.
      cache.delete(key)
      cache.set(key, known)
      return { size, sha256: known }
    }
    signal?.throwIfAborted()
    // Hashed in a worker thread: a checkpoint's every byte passes through here (hash-worker.ts).
    const sha256 = await sha256InWorker(path, size)
    signal?.throwIfAborted()
    cache.set(key, sha256)
    if (cache.size > HASH_CACHE_ENTRIES_MAX) cache.delete(cache.keys().next().value as string)
    return { size, sha256 }
  } finally {
    await handle.close()
  }
}

/** Forgets every cached hash (tests, benchmarks measuring a cold backup). */
export function clearHashCache(): void {
  cache.clear()
}
