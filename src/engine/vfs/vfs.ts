/**
 * Vfs: the file-system seam. Every byte of engine I/O goes through it (leveldb Env, pebble
 * vfs.FS), so tests can swap in MemVfs (crash simulation) or FaultVfs (error injection).
 *
 * Paths are absolute or relative POSIX-style strings; implementations do not interpret `..`
 * specially beyond what the OS does. Errors from the OS are thrown as StrataError code `IO`
 * (with the system error as `cause`, its `code` e.g. 'EIO' or 'ENOSPC'), or `NOT_FOUND` /
 * `EXISTS` when a named file is missing or already there.
 *
 * Durability: data appended to a WritableFile survives a process crash once `append` returns
 * (it is in the OS), and survives power loss only after `sync()`. A created, renamed, linked
 * or removed directory entry survives power loss only after `syncDir()` of its directory.
 *
 * Reads are synchronous on purpose: a threadpool round trip costs ~32 µs while a pread of a
 * page-cached block costs ~2 µs, and point reads are the engine's hot path (see
 * docs/benchmarks.md). Writes of large files happen in worker threads, so sync appends there
 * block nobody; on the main thread only WAL and manifest appends use them, once per group.
 */
export interface FileStat {
  sizeBytes: number
  isDirectory: boolean
}

export interface Vfs {
  /** Creates the file, truncating an existing one. The handle refers to a new, empty file. */
  create(path: string): Promise<WritableFile>
  /** Opens an existing file for appending at its end. */
  openAppendable(path: string): Promise<WritableFile>
  /** Opens an existing file for reading. Throws NOT_FOUND if it does not exist. */
  openReadable(path: string): Promise<ReadableFile>
  /** As openReadable, synchronously (two syscalls): the table handle cache reopens an evicted
   *  table inside a synchronous read. */
  openReadableSync(path: string): ReadableFile
  /** Atomically replaces `to` with `from` (same directory or same device). */
  rename(from: string, to: string): Promise<void>
  /** Creates a hard link `created` to `existing`. Throws EXISTS if `created` exists; IO with
   *  cause code EXDEV across devices. */
  link(existing: string, created: string): Promise<void>
  /** Removes a file. Throws NOT_FOUND if it does not exist. */
  remove(path: string): Promise<void>
  /** Removes a directory and everything under it; no error if it does not exist. */
  removeAll(path: string): Promise<void>
  /** Names (not paths) of the entries of `dir`, sorted. Throws NOT_FOUND if missing. */
  list(dir: string): Promise<string[]>
  /** Throws NOT_FOUND if missing. */
  stat(path: string): Promise<FileStat>
  exists(path: string): Promise<boolean>
  /** Creates the directory and its missing parents; no error if it exists. */
  mkdirp(dir: string): Promise<void>
  /** Makes creates, renames, links and removes in `dir` durable. */
  syncDir(dir: string): Promise<void>
  /**
   * Takes an exclusive lock on `path` (created if needed) against other processes and other
   * holders in this process. Throws LOCKED if it is held.
   */
  lock(path: string): Promise<FileLock>
}

export interface ReadableFile {
  readonly sizeBytes: number
  /**
   * Returns exactly `length` bytes at `offset` in a buffer the caller owns, or throws (IO, or
   * CORRUPTION naming the file if the range lies past the end). Never a short read.
   * Synchronous (see the file comment).
   */
  readAt(offset: number, length: number): Buffer
  /**
   * Optional: fills all of `target` with the bytes at `offset`, as readAt but into the caller's
   * memory (the block cache reads a miss into a recycled buffer). Same errors, never short.
   */
  readInto?(offset: number, target: Uint8Array): void
  /** Idempotent. */
  close(): Promise<void>
}

export interface WritableFile {
  /** Bytes appended so far (including bytes not yet synced). */
  readonly sizeBytes: number
  /** Appends all of `data`. After it returns the bytes are handed to the OS: not durable until
   *  `sync()`. Throws IO on failure; after a failure the file's tail is unspecified. */
  append(data: Uint8Array): void
  /** Makes every appended byte durable. */
  sync(): Promise<void>
  /** Closes the handle (does not sync). Idempotent. */
  close(): Promise<void>
}

export interface FileLock {
  release(): Promise<void>
}
