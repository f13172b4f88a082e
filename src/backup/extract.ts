/**
 * extractArchive(source, dir): unpacks a backup archive (`.tar` or `.tar.zst`, told apart by
 * the zstd magic 28 B5 2F FD) from a byte stream into the empty directory `dir`, checking
 * everything on the way. Input is hostile until proven otherwise:
 *
 * - The first entry is BACKUP.json, at most BACKUP_MANIFEST_BYTES_MAX bytes, valid
 *   (backup-manifest.ts), its files adding up to at most `maxBytes`. Nothing is written before
 *   it has been read and checked.
 * - Every other entry is a regular file (tar type `file`: no directory, link, symlink, device,
 *   fifo or contiguous file), named by a plain file name (no absolute path, no `..`, no `/`),
 *   listed in BACKUP.json, not seen before, of exactly the listed size; its bytes hash to the
 *   listed SHA-256. Every listed file is present.
 * - The uncompressed tar stream, and the raw input, are each at most `maxBytes` (+ room for
 *   headers); zstd frames with a window over 16 MiB are refused (memory bound).
 * - The archive ends with tar's end-of-archive marker (two zero blocks); after it only zero
 *   blocks may follow (GNU tar pads its output to 10 KiB records). Anything else after the last
 *   file is rejected: tar-stream parses it as a header, which fails its checksum or names an
 *   entry that is not listed.
 * Any violation is an InvalidArchiveError with the reason; local I/O failures keep their error.
 *
 * Writing: a file is created only after its name passed the checks, with O_CREAT|O_EXCL (`wx`)
 * directly in `dir`, which this process created empty: nothing can be written outside it (no
 * path is joined before validation, and no pre-existing link can be followed). Each file is
 * fsynced; the caller fsyncs `dir`. On failure the caller removes `dir`.
 *
 * Backpressure: input chunks are pulled one at a time; each is written to the file (awaited)
 * before the next is pulled, so memory holds a few chunks whatever the archive's size.
 *
 * verifyArchive(source) runs every check without writing anything (`strata backup` re-reads the
 * file it wrote this way); checks that need the files on disk (the tree opens) are restore.ts's.
 */
import { createHash } from 'node:crypto'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'

import tar from 'tar-stream'

import {
  BACKUP_MANIFEST_BYTES_MAX,
  BACKUP_MANIFEST_NAME,
  parseBackupManifest,
  pathProblem,
  type BackupFile,
  type BackupManifest,
} from './backup-manifest.js'
import { invalidArchive, isInvalidArchive, quoteName } from './errors.js'
import { ZSTD_MAGIC, ZstdFormatError, zstdDecompress } from './zstd-stream.js'

/** tar's block size and its end-of-archive marker (two zero blocks). */
const TAR_BLOCK_BYTES = 512
const TAR_END_BYTES = 2 * TAR_BLOCK_BYTES
/**
 * Tar bytes allowed beyond `maxBytes` of file data: headers (512 B per file, pax records) and
 * padding. 64 MiB covers 100,000 files' headers.
 */
const TAR_OVERHEAD_BYTES_MAX = 64 * 1024 * 1024
/** Input is handed to the tar parser in pieces of about this size (see coalesce()). */
const COALESCE_BYTES = 1024 * 1024
/** Files being fsynced while the next ones are written. */
const SYNCS_IN_FLIGHT_MAX = 8

export interface ExtractOptions {
  /** Bound on the files' total size, the uncompressed tar stream and the raw input. */
  maxBytes: number
}

export interface ExtractResult {
  manifest: BackupManifest
  /** The input was zstd-compressed. */
  compressed: boolean
  /** Bytes read from the source. */
  archiveBytes: number
  /** Bytes of the (uncompressed) tar stream. */
  tarBytes: number
}

interface Progress {
  archiveBytes: number
  tarBytes: number
}

/** Unpacks and verifies `source` into the empty directory `dir` (see the file comment). */
export function extractArchive(source: AsyncIterable<Uint8Array>, dir: string, options: ExtractOptions): Promise<ExtractResult> {
  return readArchive(source, dir, options)
}

/**
 * Runs every check of extractArchive on `source` without writing anything (`strata backup`
 * verifies the file it wrote this way).
 */
export function verifyArchive(source: AsyncIterable<Uint8Array>, options: ExtractOptions): Promise<ExtractResult> {
  return readArchive(source, undefined, options)
}

async function readArchive(source: AsyncIterable<Uint8Array>, dir: string | undefined, options: ExtractOptions): Promise<ExtractResult> {
  const maxBytes = options.maxBytes
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new TypeError('maxBytes must be a positive integer')
  const progress: Progress = { archiveBytes: 0, tarBytes: 0 }
  const raw = counted(source, maxBytes + TAR_OVERHEAD_BYTES_MAX, progress)
  const { compressed, chunks } = await sniff(raw)
  const tarInput = compressed ? zstdDecompress(chunks) : chunks
  const extract = tar.extract()
  // The parser's own error (a damaged header, the end of data inside an entry) explains the
  // secondary "stream was destroyed" errors of the entry being read.
  let parserError: unknown
  extract.on('error', (error: unknown) => {
    parserError ??= error
  })
  const consumer = consumeEntries(extract, dir, maxBytes)
  const feeder = feed(coalesce(tarInput), extract, maxBytes + TAR_OVERHEAD_BYTES_MAX, progress)
  const [fed, consumed] = await Promise.allSettled([feeder, consumer])
  if (consumed.status === 'rejected' || fed.status === 'rejected') {
    // The entry checks say more than the feeder's "stream destroyed"; the feeder's errors
    // (truncation, damaged zstd, over the limit) more than tar-stream's generic ones.
    const errors = [consumed, fed].filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown)
    const parser = parserError !== undefined && !isInvalidArchive(parserError) && isParserError(parserError) ? [parserError] : []
    throw classify(errors.find(isInvalidArchive) ?? parser[0] ?? errors.find((e) => !isParserError(e)) ?? errors[0])
  }
  const { manifest, dataEnd } = consumed.value
  if (progress.tarBytes - dataEnd < TAR_END_BYTES) throw invalidArchive('the archive has no end-of-archive marker (truncated)')
  return { manifest, compressed, archiveBytes: progress.archiveBytes, tarBytes: progress.tarBytes }
}

/** Counts the raw input and bounds it. */
async function* counted(source: AsyncIterable<Uint8Array>, max: number, progress: Progress): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    progress.archiveBytes += chunk.length
    if (progress.archiveBytes > max) throw invalidArchive(`the upload is over the limit of ${max} bytes`)
    yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  }
}

/** Reads until the first 4 bytes are known; then the whole input again, and whether it is zstd. */
async function sniff(input: AsyncGenerator<Buffer>): Promise<{ compressed: boolean; chunks: AsyncGenerator<Buffer> }> {
  const head: Buffer[] = []
  let headBytes = 0
  let ended = false
  while (headBytes < ZSTD_MAGIC.length) {
    const next = await input.next()
    if (next.done === true) {
      ended = true
      break
    }
    head.push(next.value)
    headBytes += next.value.length
  }
  const first = Buffer.concat(head)
  const compressed = first.length >= ZSTD_MAGIC.length && first.subarray(0, ZSTD_MAGIC.length).equals(ZSTD_MAGIC)
  async function* replay(): AsyncGenerator<Buffer> {
    try {
      if (first.length > 0) yield first
      if (ended) return
      for (;;) {
        const next = await input.next()
        if (next.done === true) return
        yield next.value
      }
    } finally {
      await input.return(undefined)
    }
  }
  return { compressed, chunks: replay() }
}

/**
 * Joins small chunks (an HTTP upload arrives in ~64 KiB pieces, zstd output in 128 KiB) into
 * ~COALESCE_BYTES ones: tar-stream's cost is per chunk, and each chunk of a file is one write.
 */
async function* coalesce(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  for await (const chunk of input) {
    if (pendingBytes === 0 && chunk.length >= COALESCE_BYTES) {
      yield chunk
      continue
    }
    pending.push(chunk)
    pendingBytes += chunk.length
    if (pendingBytes >= COALESCE_BYTES) {
      yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes)
      pending = []
      pendingBytes = 0
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes)
}

/** Writes the tar bytes into the parser, waiting while it is busy; bounds the tar stream. */
async function feed(input: AsyncIterable<Buffer>, extract: tar.Extract, max: number, progress: Progress): Promise<void> {
  try {
    for await (const chunk of input) {
      progress.tarBytes += chunk.length
      if (progress.tarBytes > max) throw invalidArchive(`the uncompressed archive is over the limit of ${max} bytes`)
      if (extract.destroyed) throw new Error('the tar parser stopped')
      if (!extract.write(chunk)) await drained(extract)
    }
    if (extract.destroyed) throw new Error('the tar parser stopped')
    extract.end(undefined)
  } catch (error) {
    extract.destroy(error as Error)
    throw error
  }
}

function drained(stream: tar.Extract): Promise<void> {
  if (stream.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done)
      stream.off('close', done)
      resolve()
    }
    stream.on('drain', done)
    stream.on('close', done)
  })
}

interface Consumed {
  manifest: BackupManifest
  /** Offset in the tar stream where the last entry's (padded) data ends. */
  dataEnd: number
}

/** Checks every entry and writes the listed files (see the file comment). */
async function consumeEntries(extract: tar.Extract, dir: string | undefined, maxBytes: number): Promise<Consumed> {
  let manifest: BackupManifest | undefined
  const pending = new Map<string, BackupFile>()
  let dataEnd = 0
  const syncs = new Syncs()
  try {
    for await (const entry of extract) {
      const header = entry.header
      const size = checkHeader(header)
      if (manifest === undefined) {
        if (header.name !== BACKUP_MANIFEST_NAME) throw invalidArchive(`the first entry is not ${BACKUP_MANIFEST_NAME}`)
        if (size > BACKUP_MANIFEST_BYTES_MAX) throw invalidArchive(`${BACKUP_MANIFEST_NAME} is over ${BACKUP_MANIFEST_BYTES_MAX} bytes`)
        manifest = parseBackupManifest(await readAll(entry as AsyncIterable<Buffer>, size), { totalBytesMax: maxBytes })
        for (const file of manifest.files) pending.set(file.path, file)
      } else {
        const file = checkListed(header.name, size, pending, manifest)
        pending.delete(file.path)
        await checkFile(entry as AsyncIterable<Buffer>, dir === undefined ? undefined : join(dir, file.path), file, syncs)
      }
      dataEnd = dataOffset(header) + Math.ceil(size / TAR_BLOCK_BYTES) * TAR_BLOCK_BYTES
    }
    await syncs.drain()
  } catch (error) {
    extract.destroy(error as Error)
    await syncs.drain().catch(() => undefined) // every file closed before the caller removes them
    throw error
  }
  if (manifest === undefined) throw invalidArchive('the archive is empty')
  const missing = pending.keys().next()
  if (missing.done !== true) throw invalidArchive(`${quoteName(missing.value)} is listed in ${BACKUP_MANIFEST_NAME} but not in the archive (truncated?)`)
  return { manifest, dataEnd }
}

/** The entry's size, once its type is a regular file and its name a plain file name. */
function checkHeader(header: tar.Header): number {
  if (header.type !== 'file') throw invalidArchive(`an entry is a ${header.type ?? 'unknown type'}; only regular files are allowed`)
  const problem = pathProblem(header.name)
  if (problem !== undefined && header.name !== BACKUP_MANIFEST_NAME) throw invalidArchive(`an entry name ${problem}`)
  const size = header.size ?? 0
  if (!Number.isSafeInteger(size) || size < 0) throw invalidArchive('an entry has an invalid size')
  return size
}

function checkListed(name: string, size: number, pending: Map<string, BackupFile>, manifest: BackupManifest): BackupFile {
  const file = pending.get(name)
  if (file === undefined) {
    const listed = name !== BACKUP_MANIFEST_NAME && manifest.files.some((f) => f.path === name)
    throw invalidArchive(listed || name === BACKUP_MANIFEST_NAME ? `${quoteName(name)} appears twice in the archive` : `${quoteName(name)} is not listed in ${BACKUP_MANIFEST_NAME}`)
  }
  if (size !== file.size) throw invalidArchive(`${quoteName(name)} is ${size} bytes in the archive but ${file.size} in ${BACKUP_MANIFEST_NAME}`)
  return file
}

/** Where the entry's data starts in the tar stream (tar-stream records it on the header). */
function dataOffset(header: tar.Header): number {
  const offset = (header as tar.Header & { byteOffset?: unknown }).byteOffset
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset)) throw new Error('tar-stream did not report the entry offset')
  return offset
}

async function readAll(entry: AsyncIterable<Buffer>, size: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of entry) {
    length += chunk.length
    if (length > size) throw invalidArchive('an entry holds more bytes than its header says')
    chunks.push(chunk)
  }
  if (length !== size) throw invalidArchive('the archive ends inside an entry (truncated)')
  return Buffer.concat(chunks, length)
}

/**
 * fsync + close of written files, overlapped with parsing the next ones (a file's fsync waits
 * for the disk; serial fsyncs made restores ~2x slower), at most SYNCS_IN_FLIGHT_MAX at once.
 * drain() waits for all and throws the first failure.
 */
class Syncs {
  readonly #inFlight = new Set<Promise<void>>()
  #error: unknown

  async add(handle: FileHandle): Promise<void> {
    while (this.#inFlight.size >= SYNCS_IN_FLIGHT_MAX) await Promise.race(this.#inFlight)
    const done: Promise<void> = handle
      .sync()
      .finally(() => handle.close())
      .catch((error: unknown) => {
        this.#error ??= error
      })
      .finally(() => this.#inFlight.delete(done))
    this.#inFlight.add(done)
  }

  async drain(): Promise<void> {
    await Promise.all([...this.#inFlight])
    if (this.#error !== undefined) throw this.#error
  }
}

/**
 * Hashes one listed file and checks its size and SHA-256; if `path` is given, writes it there
 * (exclusive create) and hands it to `syncs` to be fsynced and closed.
 */
async function checkFile(entry: AsyncIterable<Buffer>, path: string | undefined, file: BackupFile, syncs: Syncs): Promise<void> {
  const handle = path === undefined ? undefined : await open(path, 'wx', 0o644)
  let handedOver = false
  try {
    const hash = createHash('sha256')
    let written = 0
    for await (const chunk of entry) {
      written += chunk.length
      if (written > file.size) throw invalidArchive(`${quoteName(file.path)} holds more bytes than listed`)
      hash.update(chunk)
      if (handle !== undefined) await handle.write(chunk, 0, chunk.length)
    }
    if (written !== file.size) throw invalidArchive(`the archive ends inside ${quoteName(file.path)} (truncated)`)
    if (hash.digest('hex') !== file.sha256) throw invalidArchive(`${quoteName(file.path)} does not match its SHA-256 in ${BACKUP_MANIFEST_NAME}`)
    if (handle !== undefined) {
      handedOver = true
      await syncs.add(handle)
    }
  } finally {
    if (!handedOver) await handle?.close()
  }
}

/** Errors tar-stream raises on bad input (its messages name no path). */
function isParserError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : ''
  const code = (error as { code?: unknown }).code
  if (code === 'STREAM_DESTROYED') return true
  return /tar header|Unexpected end of data|Header exceeds max size|Invalid header|No body allowed|tar entry destroyed|the tar parser stopped|Stream was destroyed/.test(message)
}

/** The error to report: archive problems become InvalidArchiveError; local I/O errors stay. */
function classify(error: unknown): unknown {
  if (isInvalidArchive(error)) return error
  if (error instanceof ZstdFormatError) return invalidArchive(error.message)
  const message = error instanceof Error ? error.message : String(error)
  if (/Unexpected end of data/.test(message)) return invalidArchive('the archive ends early (truncated)')
  if (/tar header/.test(message)) return invalidArchive('a tar header is damaged (checksum mismatch or unknown format); is this a tar archive?')
  if (/Header exceeds max size/.test(message)) return invalidArchive('a pax or long-name header is too large')
  if (isParserError(error)) return invalidArchive(`the tar data is damaged (${message})`)
  const code = (error as { code?: unknown }).code
  // The source failed (a client that went away mid-upload): the archive we got is incomplete.
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNABORTED' || message === 'aborted') {
    return invalidArchive('the upload ended early (truncated)')
  }
  return error
}
