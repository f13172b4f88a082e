/**
 * A backup archive as a stream of tar bytes (tar-stream's pack), BACKUP.json first, then every
 * file BACKUP.json lists, in its order. Format: POSIX ustar entries of type `file`, mode 0644,
 * uid/gid 0, mtime = the backup's createdAt; no directory entries; the archive ends with tar's
 * two zero blocks. GNU tar and bsdtar read it (docs/backup.md).
 *
 * Backpressure, end to end: the consumer pulls tar chunks (an async generator); pack hands out a
 * chunk only when asked; a file entry's write resolves only once pack took the chunk; the next
 * 1 MiB read starts only then. So memory holds a couple of chunks whatever the tree's size.
 *
 * Abort: when the consumer stops (an HTTP client disconnects and the response stream is
 * destroyed, which calls the generator's return()), the generator destroys pack, the producer
 * fails its pending write, closes its file, and the generator settles only after that: when it
 * has finished, in every case, no file of the checkpoint is open any more.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'

import tar from 'tar-stream'

import { BACKUP_MANIFEST_NAME, pathProblem, type BackupManifest } from './backup-manifest.js'
import type { ChunkPool } from './chunk-pool.js'

/** Bytes per file read (and per tar data chunk): large reads are what makes the stream fast. */
export const TAR_CHUNK_BYTES = 1024 * 1024
/** Mode of every entry (regular file, rw-r--r--). */
const ENTRY_MODE = 0o644

export interface TarSource {
  /** Directory holding the files `manifest` lists. */
  dir: string
  manifest: BackupManifest
  /** encodeBackupManifest(manifest): the first entry's bytes. */
  manifestBytes: Buffer
}

/**
 * Where file reads go: a pool (chunk-pool.ts) when the consumer gives each chunk back once it
 * is written; a fresh buffer per read otherwise.
 */
export type ReadBuffers = Pick<ChunkPool, 'take'> | undefined

/** The archive of `source`, as tar chunks (see the file comment). */
export async function* tarChunks(source: TarSource, buffers?: ReadBuffers): AsyncGenerator<Buffer> {
  const pack = tar.pack()
  const producer = produce(pack, source, buffers)
  // A producer failure destroys pack with that error: iteration below then throws it.
  producer.catch((error: unknown) => pack.destroy(error as Error))
  let finished = false
  try {
    for await (const chunk of pack) yield chunk as Buffer
    finished = true
  } finally {
    if (!finished) pack.destroy()
    // Wait until the producer has closed its file (it fails fast once pack is destroyed).
    await producer.catch(() => undefined)
  }
}

async function produce(pack: tar.Pack, source: TarSource, buffers: ReadBuffers): Promise<void> {
  const mtime = new Date(source.manifest.createdAt)
  await writeEntry(pack, { name: BACKUP_MANIFEST_NAME, size: source.manifestBytes.length, mtime }, async (entry) => {
    await write(pack, entry, source.manifestBytes)
  })
  for (const file of source.manifest.files) {
    if (pathProblem(file.path) !== undefined) throw new Error('a listed file has a bad name')
    const handle = await open(join(source.dir, file.path), 'r')
    try {
      const size = (await handle.stat()).size
      if (size !== file.size) throw new Error(`${file.path} changed size after it was hashed`)
      await writeEntry(pack, { name: file.path, size: file.size, mtime }, (entry) => copyFile(pack, entry, handle, file.size, buffers))
    } finally {
      await handle.close()
    }
  }
  pack.finalize()
}

type Sink = ReturnType<tar.Pack['entry']>

/** Adds one entry, lets `fill` write its bytes, and resolves once pack has consumed it. */
async function writeEntry(pack: tar.Pack, header: { name: string; size: number; mtime: Date }, fill: (entry: Sink) => Promise<void>): Promise<void> {
  if (pack.destroyed) throw new Error('the archive stream was destroyed')
  let settle: (error?: Error | null) => void = () => undefined
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve())
  })
  const entry = pack.entry({ ...header, type: 'file', mode: ENTRY_MODE, uid: 0, gid: 0 }, (error) => settle(error))
  // Once the entry errors, `done` rejects; the rejection is handled here and by the await below.
  done.catch(() => undefined)
  await fill(entry)
  entry.end(undefined)
  await done
}

/**
 * Copies the file into the entry in TAR_CHUNK_BYTES reads, one read ahead: the next chunk is
 * being read (in the thread pool) while this one is handed to pack and the consumer, which
 * otherwise wait for each other (a profile showed the main thread idle half the time).
 */
async function copyFile(pack: tar.Pack, entry: Sink, handle: FileHandle, size: number, buffers: ReadBuffers): Promise<void> {
  const readAt = async (position: number): Promise<Buffer> => {
    // A buffer of its own per chunk (pooled or fresh): pack and the consumer keep a reference
    // to what they were given until it is written; a pooled one comes back only then.
    const bytes = Math.min(TAR_CHUNK_BYTES, size - position)
    const buffer = buffers !== undefined ? buffers.take(bytes) : Buffer.allocUnsafe(bytes)
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position)
    if (bytesRead === 0) throw new Error('a file shrank while it was archived')
    return bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead)
  }
  let position = 0
  let next: Promise<Buffer> | undefined = size > 0 ? readAt(0) : undefined
  try {
    while (next !== undefined) {
      const chunk: Buffer = await next
      position += chunk.length
      next = position < size ? readAt(position) : undefined
      await write(pack, entry, chunk)
    }
  } catch (error) {
    // The file is closed by the caller once this returns: let a read in flight finish first.
    await next?.catch(() => undefined)
    throw error
  }
}

/** Writes `data` to the entry and waits while pack's buffer is full. */
async function write(pack: tar.Pack, entry: Sink, data: Buffer): Promise<void> {
  if (pack.destroyed || entry.destroyed) throw new Error('the archive stream was destroyed')
  if (entry.write(data)) return
  await new Promise<void>((resolve) => {
    const done = () => {
      entry.off('drain', done)
      entry.off('close', done)
      pack.off('close', done)
      resolve()
    }
    entry.on('drain', done)
    entry.on('close', done)
    pack.on('close', done)
  })
  if (pack.destroyed || entry.destroyed) throw new Error('the archive stream was destroyed')
}
