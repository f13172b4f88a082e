/**
 * SHA-256 of the files of a checkpoint, read once in large chunks, with a cache by inode.
 *
 * Why a cache: BACKUP.json comes first in the archive, so every file is hashed before the first
 * byte is sent. A checkpoint's tables are hard links of the live tree's immutable tables, so the
 * same inode is hashed again by every later backup of the tree. The cache key is (device, inode,
 * size, mtime): a table is never modified after it is published (DESIGN.md: nothing is
 * overwritten in place), and a new file gets a new inode or a new mtime. Linking a file changes
 * its ctime, not its mtime, so the key survives the links checkpoints make.
 */
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'

/** Bytes per read while hashing (1 MiB: few syscalls, little memory). */
export const HASH_CHUNK_BYTES = 1024 * 1024
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
    const hash = createHash('sha256')
    const buffer = Buffer.allocUnsafe(Math.min(HASH_CHUNK_BYTES, Math.max(size, 1)))
    let position = 0
    while (position < size) {
      signal?.throwIfAborted()
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - position), position)
      if (bytesRead === 0) throw new Error('the file shrank while it was hashed')
      hash.update(buffer.subarray(0, bytesRead))
      position += bytesRead
    }
    const sha256 = hash.digest('hex')
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
