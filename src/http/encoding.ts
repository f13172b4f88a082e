/**
 * Bytes at the HTTP edge: keys in paths (RFC 3986 percent-encoding, any bytes), keys and values
 * in JSON strings (`utf8` or `base64`), and key bounds.
 *
 * Keys in a path. find-my-way decodes paths with decodeURI, which throws on percent-encoded
 * bytes that are not UTF-8 (`%FF`). So app.ts rewrites the key segment of the key routes to a
 * placeholder before routing (keyPathRewrite), and the handlers decode the segment of the
 * ORIGINAL url (request.originalUrl) themselves, byte by byte (keyFromUrl). `%2F` is a byte of
 * the key, never a path separator. Logs see the rewritten url, so keys stay out of them.
 *
 * Invariants:
 * - percentDecode is exact: `%XX` is the byte XX; any other character below U+0100 is its
 *   latin1 byte (Node hands request lines over as latin1); characters above are their UTF-8.
 * - A JSON string under `base64` is RFC 4648 base64 with padding, nothing else; under `utf8` a
 *   string with a lone surrogate (not UTF-8 encodable) is refused, never silently replaced.
 * - Answers under `utf8` refuse bytes that are not valid UTF-8 (INVALID_ENCODING) instead of
 *   mangling them: binary data needs `base64`.
 */
import { isAscii, isUtf8 } from 'node:buffer'

import { KEY_BYTES_MAX } from '../engine/index.js'
import { httpError } from './errors.js'

export const ENCODINGS = ['utf8', 'base64'] as const
export type Encoding = (typeof ENCODINGS)[number]

/** Strict base64 (RFC 4648 section 4, padded). */
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
/**
 * False when `text` holds a lone surrogate (not UTF-8 encodable). String.prototype.isWellFormed
 * (Node 20) is native and ~7x faster than a /\p{Cs}/u test; ES2023's lib does not declare it.
 */
function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed()
}
/** The key routes: /v1/trees/{tree}/keys/{key}[/merge][?query]. Groups: prefix, key, rest. */
const KEY_ROUTE_URL = /^(\/v1\/trees\/[^/?#]*\/keys\/)([^/?#]*)((?:\/merge)?(?:[?#][\s\S]*)?)$/
/** What the key segment is rewritten to before routing (non-empty so the route matches). */
export const KEY_PLACEHOLDER = '_'

/** Decodes a JSON string field per `encoding`; INVALID_ENCODING names the field, never its content. */
export function decodeText(value: string, encoding: Encoding, field: string): Buffer {
  if (encoding === 'base64') {
    if (!BASE64_PATTERN.test(value)) throw httpError('INVALID_ENCODING', `${field} is not valid base64`)
    return Buffer.from(value, 'base64')
  }
  if (!isWellFormed(value)) throw httpError('INVALID_ENCODING', `${field} holds a lone surrogate, which is not UTF-8 text`)
  return Buffer.from(value, 'utf8')
}

/** Encodes bytes for a JSON answer per `encoding`. */
export function encodeBytes(bytes: Uint8Array, encoding: Encoding, what: string): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (encoding === 'base64') return buf.toString('base64')
  // ASCII (most keys and many values) is its own UTF-8, and the one-byte decode is cheaper.
  if (isAscii(buf)) return buf.toString('latin1')
  if (!isUtf8(buf)) throw httpError('INVALID_ENCODING', `a ${what} is not valid UTF-8; ask with encoding=base64`)
  return buf.toString('utf8')
}

/** A key's bytes checked for length: INVALID_KEY when empty, KEY_TOO_LARGE past 65,535 bytes. */
export function checkKeyBytes(key: Buffer, field = 'key'): Buffer {
  if (key.length === 0) throw httpError('INVALID_KEY', `${field} is empty; keys are 1 to ${KEY_BYTES_MAX} bytes`)
  if (key.length > KEY_BYTES_MAX) throw httpError('KEY_TOO_LARGE', `${field} is ${key.length} bytes; keys are at most ${KEY_BYTES_MAX}`)
  return key
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48
  if (code >= 65 && code <= 70) return code - 55
  if (code >= 97 && code <= 102) return code - 87
  return -1
}

/** The bytes of a percent-encoded path segment, or undefined when a `%` is not followed by two hex digits. */
export function percentDecode(segment: string): Buffer | undefined {
  // Fast path, most keys: no escapes, every character one latin1 byte: one allocation.
  let plain = true
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i)
    if (c === 37 || c >= 0x100) {
      plain = false
      break
    }
  }
  if (plain) return Buffer.from(segment, 'latin1')
  const out = Buffer.allocUnsafe(segment.length * 3) // a char above U+FFFF is 2 units and 4 bytes
  let n = 0
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i)
    if (c === 37) {
      const high = hexValue(segment.charCodeAt(i + 1))
      const low = hexValue(segment.charCodeAt(i + 2))
      if (high < 0 || low < 0) return undefined
      out[n++] = high * 16 + low
      i += 2
    } else if (c < 0x100) {
      out[n++] = c
    } else {
      const cp = segment.codePointAt(i)!
      n += out.write(String.fromCodePoint(cp), n, 'utf8')
      if (cp > 0xffff) i++
    }
  }
  return Buffer.from(out.subarray(0, n))
}

/** Rewrites the key segment of a key route's url to KEY_PLACEHOLDER (see the file comment). */
export function keyPathRewrite(url: string): string {
  const m = KEY_ROUTE_URL.exec(url)
  return m === null ? url : `${m[1]}${KEY_PLACEHOLDER}${m[3]}`
}

/** The key bytes of a key route's ORIGINAL url. */
export function keyFromUrl(originalUrl: string): Buffer {
  const m = KEY_ROUTE_URL.exec(originalUrl)
  if (m === null) throw httpError('INVALID_KEY', 'the key path segment is missing')
  const bytes = percentDecode(m[2]!)
  if (bytes === undefined) throw httpError('INVALID_KEY', 'the key path segment is not valid percent-encoding')
  return checkKeyBytes(bytes)
}

/** The smallest key greater than every key starting with `prefix`, or undefined (all 0xFF). */
export function prefixEnd(prefix: Uint8Array): Buffer | undefined {
  const out = Buffer.from(prefix)
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] !== 0xff) {
      out[i] = out[i]! + 1
      return out.subarray(0, i + 1)
    }
  }
  return undefined
}
