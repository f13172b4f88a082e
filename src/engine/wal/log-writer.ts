/**
 * LogWriter: frames opaque records into the log format and appends them to a WritableFile
 * (leveldb db/log_writer.cc). Used by the WAL (one record per committed write batch) and by the
 * manifest (one record per VersionEdit).
 *
 * Layout written (see format.ts and docs/format/wal.md):
 *
 *   block:  | chunk | chunk | ... | chunk | trailer (0..6 zero bytes) |
 *   chunk:  | crc u32 LE | length u16 LE | type u8 | payload (length bytes) |
 *           crc = maskCrc(crc32c(type || payload)); type FULL=1 FIRST=2 MIDDLE=3 LAST=4
 *
 * A record is cut at block boundaries: FULL if it fits the rest of the block, otherwise FIRST,
 * MIDDLE*, LAST. An empty record is one FULL chunk of length 0. When fewer than 7 bytes remain
 * in a block they are zero-filled and the next chunk starts at the next block; when exactly 7
 * remain, a non-empty record starts there with a FIRST chunk of length 0 (as LevelDB does).
 *
 * Invariants:
 * - One `file.append` per addRecord/addRecords call: a group of records is framed into one
 *   Buffer first (one syscall per commit group).
 * - `sizeBytes` is always the file's length and `sizeBytes % BLOCK_BYTES` the block offset.
 * - After an append or sync fails, the file's tail is unknown: the writer refuses every later
 *   call with that failure (never frames after bytes it cannot see, never swallows an error).
 * - A log whose recovery dropped a torn tail must not be reopened for appending: records
 *   appended after a torn tail would read back as corruption in the middle. Start a new log.
 */
import { assert } from '../base/assert.js'
import { ErrorCode, StrataError } from '../errors.js'
import type { WritableFile } from '../vfs/vfs.js'
import {
  BLOCK_BYTES,
  ChunkType,
  HEADER_BYTES,
  RECORD_BYTES_MAX,
  blockRemainingBytes,
  chunkChecksum,
  framedEnd,
} from './format.js'

/**
 * Frames `records` as they would be written at file offset `fileOffset`; returns exactly the
 * bytes to append (trailer padding included). Pure.
 */
export function frameRecords(records: readonly Uint8Array[], fileOffset: number): Buffer {
  assert(Number.isSafeInteger(fileOffset) && fileOffset >= 0, 'file offset out of range')
  let end = fileOffset
  for (const record of records) end = framedEnd(end, record.length)
  const out = Buffer.allocUnsafe(end - fileOffset)
  let position = fileOffset
  for (const record of records) position = frameRecord(out, fileOffset, position, record)
  assert(position === end, 'framing wrote a different length than framedEnd computed')
  return out
}

/** Writes one record's chunks into `out` (which starts at file offset `base`) at file offset
 *  `position`; returns the file offset after the record. */
function frameRecord(out: Buffer, base: number, position: number, record: Uint8Array): number {
  assert(record.length <= RECORD_BYTES_MAX, 'record longer than RECORD_BYTES_MAX')
  let done = 0
  let isFirst = true
  do {
    const remaining = blockRemainingBytes(position)
    if (remaining < HEADER_BYTES) {
      out.fill(0, position - base, position - base + remaining)
      position += remaining
    }
    const available = blockRemainingBytes(position) - HEADER_BYTES
    const fragment = Math.min(record.length - done, available)
    const isLast = done + fragment === record.length
    const type = chunkTypeOf(isFirst, isLast)
    const at = position - base
    const chunkBlock = Math.floor(position / BLOCK_BYTES)
    out.writeUInt32LE(chunkChecksum(type, record, done, done + fragment), at)
    out.writeUInt16LE(fragment, at + 4)
    out[at + 6] = type
    out.set(record.subarray(done, done + fragment), at + HEADER_BYTES)
    position += HEADER_BYTES + fragment
    done += fragment
    isFirst = false
    assert(Math.floor((position - 1) / BLOCK_BYTES) === chunkBlock, 'chunk crosses a block')
  } while (done < record.length)
  assert(done === record.length, 'record not fully framed')
  return position
}

function chunkTypeOf(isFirst: boolean, isLast: boolean): ChunkType {
  if (isFirst) return isLast ? ChunkType.Full : ChunkType.First
  return isLast ? ChunkType.Last : ChunkType.Middle
}

export class LogWriter {
  private readonly file: WritableFile
  private readonly fileName: string
  private offset: number
  private failure: unknown = undefined
  private closed = false

  /**
   * Continues the log at the file's current end (`file.sizeBytes`); block offset is
   * `sizeBytes % BLOCK_BYTES`. `fileName` is the file's base name, used in errors.
   * Requires: the file holds only complete records (see the header on torn tails).
   */
  constructor(file: WritableFile, fileName: string) {
    assert(Number.isSafeInteger(file.sizeBytes) && file.sizeBytes >= 0, 'file size')
    assert(fileName.length > 0 && !fileName.includes('/'), 'fileName must be a base name')
    this.file = file
    this.fileName = fileName
    this.offset = file.sizeBytes
  }

  /** File length so far: the offset at which the next record's framing starts. */
  get sizeBytes(): number {
    return this.offset
  }

  /** Frames one record and appends it with one `append` call. Not durable until sync(). */
  addRecord(record: Uint8Array): void {
    this.addRecords([record])
  }

  /**
   * Frames all records into one Buffer and appends it with one `append` call (group commit).
   * An empty list appends nothing. Not durable until sync(). Throws IO if the append fails;
   * the writer is then unusable.
   */
  addRecords(records: readonly Uint8Array[]): void {
    this.checkUsable()
    if (records.length === 0) return
    const framed = frameRecords(records, this.offset)
    try {
      this.file.append(framed)
    } catch (err) {
      this.failure = err
      throw err
    }
    this.offset += framed.length
    assert(this.file.sizeBytes === this.offset, 'file size diverged from the framed length')
  }

  /** Makes every appended record durable. A failed sync makes the writer unusable (the
   *  kernel may have dropped the dirty pages: retrying would report false durability). */
  async sync(): Promise<void> {
    this.checkUsable()
    try {
      await this.file.sync()
    } catch (err) {
      this.failure = err
      throw err
    }
  }

  /** Closes the file (without syncing). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.file.close()
  }

  private checkUsable(): void {
    assert(!this.closed, 'LogWriter used after close()')
    if (this.failure !== undefined) {
      const message = `log ${this.fileName} failed earlier; it takes no more writes`
      throw new StrataError(ErrorCode.IO, message, { cause: this.failure, file: this.fileName })
    }
  }
}
