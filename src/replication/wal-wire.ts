/**
 * The WAL stream's wire format (GET /v1/trees/{tree}/replication/wal; spec:
 * docs/format/replication-wal.md). A response body is a sequence of frames:
 *
 *   +-------------+-------------+---------+------------+-------------------+
 *   | length u32  | crc32c u32  | type u8 | seqno u64  | payload           |
 *   +-------------+-------------+---------+------------+-------------------+
 *     0             4             8         9            17
 *
 *   length   bytes after the crc field: 9 + payload length (little endian, like every field)
 *   crc32c   CRC-32C (unmasked) of type, seqno and payload
 *   type     1 HELLO      payload JSON { "format": 1, "treeId", "epoch", "epochStartSeqno" };
 *                        seqno = the `since` the stream starts after
 *            2 RECORD     payload = one committed write batch (the WAL record of
 *                        docs/format/wal.md, whose first 8 bytes repeat the seqno)
 *            3 HEARTBEAT  payload JSON { "tablesSeqno", "versionId" }; seqno = the leader's
 *                        newest seqno (sent when idle, so followers see lag and dead links)
 *            4 END        payload JSON { "code", "message" }: the stream ends (e.g. WAL_GONE)
 *
 * Invariants: HELLO is the first frame and only the first; RECORD seqnos are consecutive
 * from since+1; a decoder refuses a frame longer than FRAME_BYTES_MAX, a bad crc, an unknown
 * type or anything after END, and never allocates more than one frame ahead.
 */
import { crc32cUpdate } from '../engine/index.js'

export const WAL_STREAM_FORMAT = 1
export const FrameType = { Hello: 1, Record: 2, Heartbeat: 3, End: 4 } as const
export type FrameType = (typeof FrameType)[keyof typeof FrameType]
/** Header bytes before the payload. */
export const FRAME_HEADER_BYTES = 17
/** A batch record is at most the engine's batch bound; 256 MiB + slack keeps a hostile length
 *  from making the follower allocate more than any real record needs. */
export const FRAME_BYTES_MAX = 300 * 1024 * 1024
export const WAL_STREAM_CONTENT_TYPE = 'application/vnd.strata.wal-stream'

export interface Frame {
  type: FrameType
  seqno: number
  payload: Buffer
}

export function encodeFrame(type: FrameType, seqno: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length)
  writeFrame(out, 0, type, seqno, payload)
  return out
}

/** RECORD frames of consecutive records, in one buffer: the bytes of encodeFrame for each, back
 *  to back (a sender writes a commit burst with one socket write; the decoder does not care). */
export function encodeRecordFrames(records: readonly { seqno: number; record: Uint8Array }[]): Buffer {
  let bytes = 0
  for (const r of records) bytes += FRAME_HEADER_BYTES + r.record.length
  const out = Buffer.allocUnsafe(bytes)
  let at = 0
  for (const r of records) at = writeFrame(out, at, FrameType.Record, r.seqno, r.record)
  return out
}

/** Writes one frame at `at` of `out`; returns the offset after it. */
function writeFrame(out: Buffer, at: number, type: FrameType, seqno: number, payload: Uint8Array): number {
  out.writeUInt32LE(9 + payload.length, at)
  out[at + 8] = type
  out.writeBigUInt64LE(BigInt(seqno), at + 9)
  out.set(payload, at + FRAME_HEADER_BYTES)
  const end = at + FRAME_HEADER_BYTES + payload.length
  out.writeUInt32LE(crc32cUpdate(0, out, at + 8, end), at + 4)
  return end
}

export function jsonFrame(type: FrameType, seqno: number, body: unknown): Buffer {
  return encodeFrame(type, seqno, Buffer.from(JSON.stringify(body), 'utf8'))
}

export class FrameError extends Error {
  constructor(message: string) {
    super(`WAL stream: ${message}`)
    this.name = 'FrameError'
  }
}

/** Incremental decoder: push() chunks as they arrive, take the whole frames it returns. */
export class FrameDecoder {
  #pending: Buffer[] = []
  #pendingBytes = 0
  #ended = false

  push(chunk: Buffer): Frame[] {
    this.#pending.push(chunk)
    this.#pendingBytes += chunk.length
    const frames: Frame[] = []
    for (;;) {
      if (this.#pendingBytes < 4) return frames
      const head = this.#peek(4)
      const length = head.readUInt32LE(0)
      if (length < 9 || length > FRAME_BYTES_MAX) throw new FrameError(`frame length ${length} is out of bounds`)
      if (this.#pendingBytes < 8 + length) return frames
      const bytes = this.#take(8 + length)
      if (crc32cUpdate(0, bytes, 8) !== bytes.readUInt32LE(4)) throw new FrameError('frame checksum mismatch')
      const type = bytes[8]!
      if (type < FrameType.Hello || type > FrameType.End) throw new FrameError(`unknown frame type ${type}`)
      if (this.#ended) throw new FrameError('a frame after END')
      const seqno = Number(bytes.readBigUInt64LE(9))
      if (!Number.isSafeInteger(seqno)) throw new FrameError('seqno out of range')
      if (type === FrameType.End) this.#ended = true
      frames.push({ type: type as FrameType, seqno, payload: bytes.subarray(FRAME_HEADER_BYTES) })
    }
  }

  /** Bytes received that are not a whole frame yet (a stream ending here was cut). */
  get pendingBytes(): number {
    return this.#pendingBytes
  }

  #peek(n: number): Buffer {
    const first = this.#pending[0]!
    if (first.length >= n) return first.subarray(0, n)
    return Buffer.concat(this.#pending).subarray(0, n)
  }

  #take(n: number): Buffer {
    const all = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending)
    // Copy the frame out: a record is kept by the follower's memtable and must not pin the
    // whole network chunk it arrived in.
    const frame = Buffer.from(all.subarray(0, n))
    const rest = all.subarray(n)
    this.#pending = rest.length > 0 ? [rest] : []
    this.#pendingBytes = rest.length
    return frame
  }
}
