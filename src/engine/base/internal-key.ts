/**
 * Internal keys: a user key plus an 8-byte trailer holding a 56-bit sequence number and a
 * one-byte kind. Ordered by user key ascending, then seqno descending (newest first), then kind
 * descending.
 *
 * Encoded form (tables, index blocks):
 *
 *   +----------------------+-------------------------------+--------+
 *   | user key (n bytes)   | seqno, 7 bytes big-endian     | kind u8|
 *   +----------------------+-------------------------------+--------+
 *
 * JS numbers are exact to 2^53, so seqnos stop at MAX_SEQNO although the format has 56 bits.
 */
import { assert } from './assert.js'
import { compareBytes } from './bytes.js'

/** DO NOT CHANGE: on disk (tables, WAL, blob files). */
export const KeyKind = {
  Delete: 0,
  Put: 1,
  Merge: 2,
  RangeDelete: 3,
  /** Reserved for key/value separation: the value is a handle into a blob file. */
  BlobIndex: 4,
} as const
export type KeyKind = (typeof KeyKind)[keyof typeof KeyKind]

export function isKeyKind(value: number): value is KeyKind {
  return Number.isInteger(value) && value >= 0 && value <= 4
}

export const MAX_SEQNO = Number.MAX_SAFE_INTEGER
export const TRAILER_BYTES = 8
/** Keys are 1 to 65,535 bytes (fits u16 lengths in every format). */
export const KEY_BYTES_MAX = 65_535
const TWO_24 = 0x100_0000

export function encodeInternalKey(userKey: Uint8Array, seqno: number, kind: KeyKind): Buffer {
  const out = Buffer.allocUnsafe(userKey.length + TRAILER_BYTES)
  out.set(userKey, 0)
  writeTrailer(out, userKey.length, seqno, kind)
  return out
}

export function writeTrailer(buf: Buffer, offset: number, seqno: number, kind: KeyKind): void {
  assert(Number.isSafeInteger(seqno) && seqno >= 0, 'seqno out of range')
  buf.writeUInt32BE(Math.floor(seqno / TWO_24), offset)
  buf.writeUIntBE(seqno % TWO_24, offset + 4, 3)
  buf[offset + 7] = kind
}

export function trailerSeqno(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO_24 + buf.readUIntBE(offset + 4, 3)
}

/** Splits an encoded internal key; the user key is a view into `ikey`. */
export function parseInternalKey(ikey: Buffer): { userKey: Buffer; seqno: number; kind: number } {
  assert(ikey.length >= TRAILER_BYTES, 'internal key shorter than its trailer')
  const n = ikey.length - TRAILER_BYTES
  return { userKey: ikey.subarray(0, n), seqno: trailerSeqno(ikey, n), kind: ikey[n + 7] as number }
}

/** Orders (userKey, seqno, kind) triples: user key ascending, seqno descending, kind descending. */
export function compareKeySeqno(
  aKey: Uint8Array, aSeqno: number, aKind: number,
  bKey: Uint8Array, bSeqno: number, bKind: number,
): number {
  const c = compareBytes(aKey, bKey)
  if (c !== 0) return c
  if (aSeqno !== bSeqno) return aSeqno > bSeqno ? -1 : 1
  return bKind - aKind
}

/** Compares two encoded internal keys without allocating. */
export function compareInternalKeys(a: Buffer, b: Buffer): number {
  const an = a.length - TRAILER_BYTES
  const bn = b.length - TRAILER_BYTES
  const c = a.compare(b, 0, bn, 0, an)
  if (c !== 0) return c
  const as = trailerSeqno(a, an)
  const bs = trailerSeqno(b, bn)
  if (as !== bs) return as > bs ? -1 : 1
  return (b[bn + 7] as number) - (a[an + 7] as number)
}
