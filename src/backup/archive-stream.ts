/**
 * A checkpoint directory as a backup archive stream: describeCheckpoint() hashes its files into
 * a BACKUP.json; archiveStream() turns that into a Node Readable of tar (or tar.zst) bytes.
 *
 * Entry order: BACKUP.json, then the data files (tables, blob files) by name, then the rest by
 * name with CURRENT last, so a partial `tar -x` never leaves a CURRENT naming missing files.
 *
 * Lifetime: the Readable emits 'close' only after every file it opened is closed, whether it
 * ended, failed or was destroyed (an HTTP client that disconnects); the caller removes a
 * temporary checkpoint then.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'

import { BACKUP_FORMAT_VERSION, encodeBackupManifest, type BackupFile, type BackupManifest } from './backup-manifest.js'
import type { ChunkPool } from './chunk-pool.js'
import { hashFile } from './file-hash.js'
import { tarChunks, type TarSource } from './tar-writer.js'
import { zstdCompress } from './zstd-stream.js'

export type Compression = 'none' | 'zstd'

/** Readable buffer of the archive stream: a couple of tar chunks. */
const STREAM_HIGH_WATER_MARK_BYTES = 1024 * 1024

export interface CheckpointDescription {
  tree: string
  treeId: string
  seqno: number
  versionId: number
  /** Default: now. */
  createdAt?: string
}

function entryRank(name: string): number {
  if (name === 'CURRENT') return 2
  return /\.(sst|blob)$/.test(name) ? 0 : 1
}

/** BACKUP.json of the checkpoint in `dir` (every file hashed, 1 MiB reads, cached by inode). */
export async function describeCheckpoint(dir: string, description: CheckpointDescription, signal?: AbortSignal): Promise<TarSource> {
  const entries = await readdir(dir, { withFileTypes: true })
  for (const entry of entries) {
    if (!entry.isFile()) throw new Error('a checkpoint directory holds regular files only')
  }
  const names = entries.map((e) => e.name).sort((a, b) => entryRank(a) - entryRank(b) || (a < b ? -1 : a > b ? 1 : 0))
  const files: BackupFile[] = []
  for (const name of names) {
    const { size, sha256 } = await hashFile(join(dir, name), signal)
    files.push({ path: name, size, sha256 })
  }
  const manifest: BackupManifest = {
    formatVersion: BACKUP_FORMAT_VERSION,
    tree: description.tree,
    treeId: description.treeId,
    seqno: description.seqno,
    versionId: description.versionId,
    createdAt: description.createdAt ?? new Date().toISOString(),
    files,
  }
  return { dir, manifest, manifestBytes: encodeBackupManifest(manifest) }
}

/**
 * The archive of `source` as a Node Readable (tar, or tar.zst with compression 'zstd').
 *
 * With a `pool`, file reads use its buffers. With zstd they go back as soon as the compressor
 * has copied them; a plain tar's chunks are the Readable's own chunks, and whoever writes them
 * out gives each back once written (see releaseWrittenChunks); one not given back is never
 * reused (chunk-pool.ts).
 */
export function archiveStream(source: TarSource, compression: Compression, pool?: ChunkPool): Readable {
  const chunks = tarChunks(source, pool)
  const bytes = compression === 'zstd' ? zstdCompress(chunks, undefined, pool && ((chunk) => pool.give(chunk))) : chunks
  return Readable.from(bytes, { objectMode: false, highWaterMark: STREAM_HIGH_WATER_MARK_BYTES })
}

/** What releaseWrittenChunks needs of a response: Node's write with its flushed-callback. */
interface ChunkSink {
  write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean
}

/**
 * Makes `sink` give every pool chunk written to it back to `pool` once the write has succeeded:
 * an http.ServerResponse calls a write's callback "when this chunk of data is flushed" (handed
 * to the kernel), so the bytes are no longer referenced. A failed write (a closed connection)
 * gives nothing back: the pool just allocates a new buffer later.
 */
export function releaseWrittenChunks(sink: ChunkSink, pool: ChunkPool): void {
  const write = sink.write.bind(sink)
  sink.write = (chunk: unknown, encoding?: unknown, callback?: unknown): boolean => {
    if (!pool.owns(chunk)) return write(chunk, encoding, callback)
    const done = typeof encoding === 'function' ? encoding : callback
    return write(chunk, typeof encoding === 'function' ? undefined : encoding, (error?: Error | null) => {
      if (error == null) pool.give(chunk)
      if (typeof done === 'function') (done as (error?: Error | null) => void)(error)
    })
  }
}

/** Sum of the sizes BACKUP.json lists (the files' bytes, without tar headers). */
export function archivedBytes(manifest: BackupManifest): number {
  return manifest.files.reduce((n, f) => n + f.size, 0)
}
