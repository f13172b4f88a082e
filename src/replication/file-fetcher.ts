/**
 * Downloads one immutable file of a delta into the follower's staging directory:
 *
 * - resumable: bytes go to `<name>.part`; a restarted download asks for `Range: bytes=<have>-`
 *   with `If-Range` on the file's ETag (its CRC-32C), so a different file is never glued on;
 * - verified: the CRC-32C of the whole file must equal the delta's checksum (and the size its
 *   size) before `<name>.part` becomes `<name>`; a mismatch deletes the part and fetches again,
 *   up to FETCH_ATTEMPTS times (the engine verifies once more, and opens the table, at install);
 * - never twice: a complete, verified `<name>` in staging (a download finished before a crash
 *   or a restart) is used as is.
 * Memory: one network chunk at a time; bytes spend the transfer budget when one is set.
 */
import { createReadStream } from 'node:fs'
import { open, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'

import { crc32cUpdate, tableFileName } from '../engine/index.js'
import type { LeaderClient } from './client.js'
import { etagOf } from './protocol.js'
import type { RateLimiter } from './rate-limit.js'

/** Downloads of one file that may fail verification before the delta is given up (and retried later). */
export const FETCH_ATTEMPTS = 3

export interface FetchTarget {
  tree: string
  id: number
  sizeBytes: number
  checksum: number
}

export interface FetchOptions {
  limiter?: RateLimiter | undefined
  signal?: AbortSignal
  /** Told of every verification failure (metrics, logs). */
  onMismatch?: (id: number, why: string) => void
}

export class FetchError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'FetchError'
  }
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/** CRC-32C of the first `length` bytes of `path`, streamed. */
async function crcOf(path: string, length: number): Promise<number> {
  if (length === 0) return 0
  let crc = 0
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1, highWaterMark: 1024 * 1024 })) crc = crc32cUpdate(crc, chunk as Buffer)
  return crc
}

/** Returns 'present' (already complete in staging) or 'downloaded'. */
export async function fetchFile(client: LeaderClient, target: FetchTarget, stagingDir: string, options: FetchOptions = {}): Promise<'present' | 'downloaded'> {
  const name = tableFileName(target.id)
  const final = join(stagingDir, name)
  const part = `${final}.part`
  if ((await sizeOf(final)) === target.sizeBytes && (await crcOf(final, target.sizeBytes)) === target.checksum) return 'present'
  await rm(final, { force: true })
  for (let attempt = 1; attempt <= FETCH_ATTEMPTS; attempt++) {
    const why = await downloadOnce(client, target, part, options)
    if (why === undefined) {
      await rename(part, final)
      return 'downloaded'
    }
    options.onMismatch?.(target.id, why)
    await rm(part, { force: true })
  }
  throw new FetchError(`table ${target.id} failed verification ${FETCH_ATTEMPTS} times`)
}

/** One download (resuming `part`); undefined when the file is complete and verified, else why not. */
async function downloadOnce(client: LeaderClient, target: FetchTarget, part: string, options: FetchOptions): Promise<string | undefined> {
  let have = (await sizeOf(part)) ?? 0
  if (have > target.sizeBytes) {
    await rm(part, { force: true })
    have = 0
  }
  let crc = await crcOf(part, have)
  const res = have === target.sizeBytes && have > 0 ? undefined : await client.file(target.tree, 'tables', target.id, have, etagOf(target.checksum), options.signal)
  if (res !== undefined && res.status === 200 && have > 0) {
    // The leader ignored the range (or the file changed): start over.
    have = 0
    crc = 0
  }
  const handle = await open(part, have === 0 ? 'w' : 'a')
  let written = have
  try {
    if (res !== undefined) {
      for await (const chunk of res.body) {
        const bytes = chunk as Buffer
        if (written + bytes.length > target.sizeBytes) {
          res.body.destroy()
          return `more than ${target.sizeBytes} bytes`
        }
        if (options.limiter !== undefined) await options.limiter.take(bytes.length)
        await handle.write(bytes)
        crc = crc32cUpdate(crc, bytes)
        written += bytes.length
      }
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
  if (written !== target.sizeBytes) return `${written} of ${target.sizeBytes} bytes`
  if (crc !== target.checksum) return 'checksum mismatch'
  return undefined
}
