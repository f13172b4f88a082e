/**
 * Log reader: reassembles the records of a whole log file held in memory (leveldb
 * db/log_reader.cc), for WAL replay and manifest recovery. Framing: see format.ts.
 *
 * Recovery rules (docs/format/wal.md, "Reading and recovery"):
 * - A damaged end of file is what a crash leaves behind: a truncated header or payload, a
 *   checksum mismatch, zero-filled space, a FIRST/MIDDLE sequence without its LAST. Such a
 *   torn tail is dropped and reported in `droppedTailBytes`; every record before it is returned.
 * - A damaged chunk followed anywhere later in the file by a valid chunk (checksum verifies,
 *   type 1..4) is corruption in the middle: CORRUPTION naming the file and the damaged chunk's
 *   offset. Dropping it would silently lose acknowledged records.
 * - A chunk whose checksum verifies but that breaks the structure (type 5..255, MIDDLE or LAST
 *   without FIRST, FIRST or FULL while a record is open) cannot come from a torn write: it is
 *   always CORRUPTION, even at the end of the file.
 *
 * The forward scan for a valid chunk starts right after the damaged chunk's claimed payload
 * when its header is plausible (type 1..4 and length inside the block), otherwise one byte
 * after the damaged chunk, and then tries every offset to the end of the file. So a torn
 * record whose own payload happens to contain log-framed bytes is still a torn tail.
 *
 * Ownership: returned records are COPIES; `data` may be reused or dropped afterwards.
 */
import { assert } from '../base/assert.js'
import { copyBytes } from '../base/bytes.js'
import { corruption } from '../errors.js'
import {
  CHUNK_TYPE_MAX,
  ChunkType,
  HEADER_BYTES,
  blockRemainingBytes,
  chunkChecksum,
} from './format.js'

export interface LogReadResult {
  /** The complete records, in file order; copies that own their memory. */
  records: Buffer[]
  /** File offset of each record's first chunk header (parallel to `records`). */
  offsets: number[]
  /** Bytes up to the end of the last complete record: the length of the good prefix. */
  validBytes: number
  /** `data.length - validBytes`: the torn tail (and any trailer padding after the last record). */
  droppedTailBytes: number
}

/** What one chunk header at a position turned out to be. */
const Verdict = {
  Ok: 0,
  TruncatedHeader: 1,
  ZeroType: 2,
  LengthPastBlock: 3,
  TruncatedPayload: 4,
  ChecksumMismatch: 5,
  /** Checksum verifies but the type is 5..255: never a torn write. */
  UnknownType: 6,
} as const
type Verdict = (typeof Verdict)[keyof typeof Verdict]

const VERDICT_MESSAGES: Record<Verdict, string> = {
  [Verdict.Ok]: 'valid chunk',
  [Verdict.TruncatedHeader]: 'truncated chunk header',
  [Verdict.ZeroType]: 'zero-filled chunk header',
  [Verdict.LengthPastBlock]: 'chunk length runs past its block',
  [Verdict.TruncatedPayload]: 'truncated chunk payload',
  [Verdict.ChecksumMismatch]: 'chunk checksum mismatch',
  [Verdict.UnknownType]: 'unknown chunk type',
}

/**
 * Reads every record of a log file. Throws CORRUPTION (naming `fileName`, a base name, and the
 * offset of the damaged chunk) for damage in the middle of the file; drops a torn tail.
 */
export function readLogRecords(data: Buffer, fileName: string): LogReadResult {
  assert(Buffer.isBuffer(data), 'data must be a Buffer')
  assert(fileName.length > 0 && !fileName.includes('/'), 'fileName must be a base name')
  const records: Buffer[] = []
  const offsets: number[] = []
  let validBytes = 0
  let openStart = -1 // offset of the open record's FIRST chunk, or -1
  let openParts: Buffer[] = []
  let position = 0
  while (position < data.length) {
    const remaining = blockRemainingBytes(position)
    if (remaining < HEADER_BYTES) {
      position += remaining // trailer
      continue
    }
    const verdict = inspectChunk(data, position)
    if (verdict !== Verdict.Ok) {
      checkTornTail(data, position, verdict, fileName)
      break
    }
    const type = data[position + 6] as number
    const payloadStart = position + HEADER_BYTES
    const end = payloadStart + data.readUInt16LE(position + 4)
    if (type === ChunkType.Full || type === ChunkType.First) {
      if (openStart >= 0) throw unterminated(fileName, openStart, position)
      if (type === ChunkType.Full) {
        records.push(copyBytes(data.subarray(payloadStart, end)))
        offsets.push(position)
        validBytes = end
      } else {
        openStart = position
        openParts = [data.subarray(payloadStart, end)]
      }
    } else {
      if (openStart < 0) {
        throw corruption(`${chunkName(type)} chunk without a FIRST`, fileName, position)
      }
      openParts.push(data.subarray(payloadStart, end))
      if (type === ChunkType.Last) {
        records.push(Buffer.concat(openParts))
        offsets.push(openStart)
        validBytes = end
        openStart = -1
        openParts = []
      }
    }
    position = end
  }
  assert(validBytes <= data.length, 'valid prefix longer than the file')
  assert(records.length === offsets.length, 'one offset per record')
  return { records, offsets, validBytes, droppedTailBytes: data.length - validBytes }
}

/** Classifies the chunk whose header starts at `position` (at least 7 bytes before the block
 *  end). Checks the header against the block and the file before trusting its length. */
function inspectChunk(data: Buffer, position: number): Verdict {
  assert(blockRemainingBytes(position) >= HEADER_BYTES, 'chunk header in a block trailer')
  if (data.length - position < HEADER_BYTES) return Verdict.TruncatedHeader
  const type = data[position + 6] as number
  if (type === ChunkType.Zero) return Verdict.ZeroType
  const length = data.readUInt16LE(position + 4)
  const end = position + HEADER_BYTES + length
  if (HEADER_BYTES + length > blockRemainingBytes(position)) return Verdict.LengthPastBlock
  if (end > data.length) return Verdict.TruncatedPayload
  const stored = data.readUInt32LE(position)
  const computed = chunkChecksum(type, data, position + HEADER_BYTES, end)
  if (stored !== computed) return Verdict.ChecksumMismatch
  return type > CHUNK_TYPE_MAX ? Verdict.UnknownType : Verdict.Ok
}

/**
 * Decides whether the damaged chunk at `position` is a torn tail (returns) or corruption in
 * the middle of the file (throws CORRUPTION at `position`).
 */
function checkTornTail(data: Buffer, position: number, verdict: Verdict, fileName: string): void {
  assert(verdict !== Verdict.Ok, 'only damaged chunks are classified')
  const what = VERDICT_MESSAGES[verdict]
  if (verdict === Verdict.UnknownType) {
    const type = data[position + 6] as number
    throw corruption(`${what} ${type} with a valid checksum`, fileName, position)
  }
  // Scan from the very next byte, not from the end the damaged header claims: a flipped length
  // byte can claim a span that hides (or runs past) every later record, and reading that as a
  // torn tail would silently drop acknowledged writes. The price: a torn record whose partial
  // payload itself holds a log-framed chunk is reported as corruption (loud, never silent).
  const resumeAt = position + 1
  const next = findValidChunk(data, resumeAt)
  if (next >= 0) {
    throw corruption(`${what}; a valid chunk follows at offset ${next}`, fileName, position)
  }
}

/**
 * The offset of the first chunk at or after `from` whose header fits its block and the file,
 * whose type is 1..4 and whose checksum verifies; -1 if there is none. Tries every offset
 * (damage can hide chunk boundaries); bytes whose type byte is out of range cost one compare,
 * so zero-filled space is skipped quickly.
 */
export function findValidChunk(data: Buffer, from: number): number {
  assert(Number.isSafeInteger(from) && from >= 0, 'scan start out of range')
  for (let p = from; p + HEADER_BYTES <= data.length; p++) {
    const remaining = blockRemainingBytes(p)
    if (remaining < HEADER_BYTES) {
      p += remaining - 1
      continue
    }
    const type = data[p + 6] as number
    if (type < ChunkType.Full || type > CHUNK_TYPE_MAX) continue
    const length = (data[p + 4] as number) | ((data[p + 5] as number) << 8)
    const end = p + HEADER_BYTES + length
    if (HEADER_BYTES + length > remaining || end > data.length) continue
    if (data.readUInt32LE(p) === chunkChecksum(type, data, p + HEADER_BYTES, end)) return p
  }
  return -1
}

function unterminated(fileName: string, openStart: number, position: number) {
  assert(openStart >= 0 && openStart < position, 'an open record precedes the chunk')
  const message = `record has no LAST chunk; a new record starts at offset ${position}`
  return corruption(message, fileName, openStart)
}

function chunkName(type: number): string {
  assert(type === ChunkType.Middle || type === ChunkType.Last, 'only continuation chunks')
  return type === ChunkType.Middle ? 'MIDDLE' : 'LAST'
}
