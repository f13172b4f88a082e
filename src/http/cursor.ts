/**
 * Scan cursors: an opaque token that carries everything a scan needs to continue (tree, treeId,
 * seqno, the last key returned, the bounds, direction, limit and encoding) and an HMAC-SHA256
 * under a random per-process key, so a client can neither forge nor edit one. Encoding and
 * decoding are pure functions of their inputs and the key (STYLE rule 9).
 *
 * Token = base64url(payload ‖ mac), payload (integers little-endian):
 *
 *     0        1        2                  10        14       15
 *     +--------+--------+------------------+---------+--------+------------+--------+----------+
 *     | ver u8 | flags  | seqno u64        | limit   | tree   | tree name  | id len | treeId   |
 *     | = 1    | u8     |                  | u32     | len u8 | (<= 64 B)  | u8     | (<=255 B)|
 *     +--------+--------+------------------+---------+--------+------------+--------+----------+
 *     | lastKey len u16 | lastKey | [start len u16 | start] | [end len u16 | end]              |
 *     | [prefix len u16 | prefix] | mac: HMAC-SHA256(key, every byte before it), 32 bytes      |
 *     +-----------------------------------------------------------------------------------------+
 *
 *     flags: bit 0 reverse, bit 1 encoding base64 (else utf8), bit 2 start present,
 *            bit 3 end present, bit 4 prefix present; other bits are 0.
 *
 * Invariants: the mac is checked (in constant time) before any field is read; every length is
 * checked against the bytes left; a token that fails any check is INVALID_CURSOR. A cursor is
 * only valid in the process that made it (the key is not persisted): after a restart its
 * snapshot is gone anyway.
 */
import assert from 'node:assert/strict'
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

import { KEY_BYTES_MAX } from '../engine/index.js'
import { httpError } from './errors.js'
import type { Encoding } from './encoding.js'

export interface ScanCursor {
  tree: string
  treeId: string
  seqno: number
  /** The last key the previous page returned. */
  lastKey: Buffer
  start?: Buffer | undefined
  end?: Buffer | undefined
  prefix?: Buffer | undefined
  reverse: boolean
  limit: number
  encoding: Encoding
}

const CURSOR_VERSION = 1
const MAC_BYTES = 32
const HEADER_BYTES = 14
const FLAG_REVERSE = 1
const FLAG_BASE64 = 2
const FLAG_START = 4
const FLAG_END = 8
const FLAG_PREFIX = 16
const FLAGS_KNOWN = FLAG_REVERSE | FLAG_BASE64 | FLAG_START | FLAG_END | FLAG_PREFIX
const TREE_NAME_BYTES_MAX = 64
const TREE_ID_BYTES_MAX = 255
/** The largest payload: header, names, four keys of at most KEY_BYTES_MAX, the mac. */
const CURSOR_BYTES_MAX = HEADER_BYTES + 2 + TREE_NAME_BYTES_MAX + TREE_ID_BYTES_MAX + 4 * (2 + KEY_BYTES_MAX) + MAC_BYTES
/** Longest token accepted: base64url of the largest payload. Anything longer is refused unread. */
export const CURSOR_TOKEN_CHARS_MAX = Math.ceil((CURSOR_BYTES_MAX * 4) / 3)
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]+$/

function invalid(message = 'the cursor is not valid'): Error {
  return httpError('INVALID_CURSOR', message)
}

export class CursorCodec {
  private readonly key: Buffer

  /** `key`: the HMAC key; a fresh random one per process by default. */
  constructor(key: Uint8Array = randomBytes(32)) {
    if (key.length < 16) throw new TypeError('a cursor key has at least 16 bytes')
    this.key = Buffer.from(key)
  }

  encode(cursor: ScanCursor): string {
    assert(isValidCursor(cursor), 'cursor fields in range')
    const name = Buffer.from(cursor.tree, 'utf8')
    const id = Buffer.from(cursor.treeId, 'utf8')
    assert(name.length <= TREE_NAME_BYTES_MAX && id.length <= TREE_ID_BYTES_MAX, 'cursor tree name and id fit')
    const keys = [cursor.lastKey, cursor.start, cursor.end, cursor.prefix].filter((k): k is Buffer => k !== undefined)
    const size = HEADER_BYTES + 2 + name.length + id.length + keys.reduce((n, k) => n + 2 + k.length, 0)
    const out = Buffer.alloc(size + MAC_BYTES)
    out[0] = CURSOR_VERSION
    out[1] = flagsOf(cursor)
    out.writeBigUInt64LE(BigInt(cursor.seqno), 2)
    out.writeUInt32LE(cursor.limit, 10)
    let at = HEADER_BYTES
    at = out.writeUInt8(name.length, at)
    at += name.copy(out, at)
    at = out.writeUInt8(id.length, at)
    at += id.copy(out, at)
    for (const k of keys) {
      at = out.writeUInt16LE(k.length, at)
      at += k.copy(out, at)
    }
    assert(at === size, 'cursor size')
    this.mac(out.subarray(0, size)).copy(out, size)
    const token = out.toString('base64url')
    assert(token.length <= CURSOR_TOKEN_CHARS_MAX, 'cursor token within its bound')
    return token
  }

  /** The cursor in `token`; INVALID_CURSOR for anything malformed, forged or edited. */
  decode(token: string): ScanCursor {
    if (typeof token !== 'string' || token.length === 0 || token.length > CURSOR_TOKEN_CHARS_MAX || !BASE64URL_PATTERN.test(token)) throw invalid()
    const data = Buffer.from(token, 'base64url')
    if (data.length < HEADER_BYTES + 2 + 2 + MAC_BYTES) throw invalid()
    const payload = data.subarray(0, data.length - MAC_BYTES)
    if (!timingSafeEqual(this.mac(payload), data.subarray(payload.length))) throw invalid()
    // Past the mac the bytes are ours; the checks below guard against our own bugs and old versions.
    const cursor = parsePayload(payload)
    if (!isValidCursor(cursor)) throw invalid()
    return cursor
  }

  private mac(payload: Buffer): Buffer {
    return createHmac('sha256', this.key).update(payload).digest()
  }
}

function flagsOf(c: ScanCursor): number {
  let flags = 0
  if (c.reverse) flags |= FLAG_REVERSE
  if (c.encoding === 'base64') flags |= FLAG_BASE64
  if (c.start !== undefined) flags |= FLAG_START
  if (c.end !== undefined) flags |= FLAG_END
  if (c.prefix !== undefined) flags |= FLAG_PREFIX
  return flags
}

function isValidCursor(c: ScanCursor): boolean {
  if (!Number.isSafeInteger(c.seqno) || c.seqno < 0) return false
  if (!Number.isInteger(c.limit) || c.limit < 1 || c.limit > 0xffffffff) return false
  if (c.lastKey.length < 1 || c.lastKey.length > KEY_BYTES_MAX) return false
  for (const k of [c.start, c.end, c.prefix]) if (k !== undefined && k.length > KEY_BYTES_MAX) return false
  return c.tree.length > 0 && c.treeId.length > 0
}

/** A reader over `payload` that refuses to read past its end. */
function reader(payload: Buffer) {
  let at = 0
  const need = (n: number) => {
    if (at + n > payload.length) throw invalid()
  }
  return {
    u8(): number {
      need(1)
      return payload[at++]!
    },
    bytes(n: number): Buffer {
      need(n)
      const b = Buffer.from(payload.subarray(at, at + n))
      at += n
      return b
    },
    key(): Buffer {
      need(2)
      const n = payload.readUInt16LE(at)
      at += 2
      return this.bytes(n)
    },
    skip(n: number): void {
      need(n)
      at += n
    },
    get done(): boolean {
      return at === payload.length
    },
  }
}

function parsePayload(payload: Buffer): ScanCursor {
  const r = reader(payload)
  if (r.u8() !== CURSOR_VERSION) throw invalid()
  const flags = r.u8()
  if ((flags & ~FLAGS_KNOWN) !== 0) throw invalid()
  const seqno = payload.readBigUInt64LE(2)
  if (seqno > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid()
  const limit = payload.readUInt32LE(10)
  r.skip(HEADER_BYTES - 2)
  const tree = r.bytes(r.u8()).toString('utf8')
  const treeId = r.bytes(r.u8()).toString('utf8')
  const lastKey = r.key()
  const start = flags & FLAG_START ? r.key() : undefined
  const end = flags & FLAG_END ? r.key() : undefined
  const prefix = flags & FLAG_PREFIX ? r.key() : undefined
  if (!r.done) throw invalid()
  return {
    tree,
    treeId,
    seqno: Number(seqno),
    lastKey,
    start,
    end,
    prefix,
    reverse: (flags & FLAG_REVERSE) !== 0,
    limit,
    encoding: flags & FLAG_BASE64 ? 'base64' : 'utf8',
  }
}
