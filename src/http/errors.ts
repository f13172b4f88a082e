/**
 * The HTTP error registry: every `code` the service answers with, its status and what it means
 * (STYLE rule 5, fastify lib/errors.js). openapi.yaml documents every code from ERROR_REGISTRY.
 *
 * Invariants:
 * - Every error answer has Fastify's shape { statusCode, code, error, message }, with a code
 *   from this registry and statusCode equal to the registry's status for it.
 * - No answer carries a stack trace, a file path or key bytes: messages are written here or by
 *   the engine (whose messages name base names and numbers only); 5xx answers carry a fixed
 *   message and the cause goes to the log only.
 */
import { STATUS_CODES } from 'node:http'

import { isStrataError } from '../engine/index.js'

export const ERROR_REGISTRY = {
  VALIDATION_ERROR: { statusCode: 400, description: 'A parameter, query field or JSON body does not match the route schema (types are never coerced).' },
  INVALID_JSON: { statusCode: 400, description: 'The body is not valid JSON (or is empty) while Content-Type is application/json.' },
  INVALID_URL: { statusCode: 400, description: 'The request path is not a valid percent-encoded URL.' },
  BAD_REQUEST: { statusCode: 400, description: 'The request is malformed in a way no more specific code describes.' },
  INVALID_TREE_NAME: { statusCode: 400, description: 'A tree name does not match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$.' },
  INVALID_KEY: { statusCode: 400, description: 'A key is empty, or its path segment is not valid percent-encoding.' },
  KEY_TOO_LARGE: { statusCode: 400, description: 'A key (or scan bound) is longer than 65,535 bytes.' },
  INVALID_ENCODING: { statusCode: 400, description: 'A string is not valid base64 under encoding=base64, or not valid UTF-8 text under encoding=utf8 (use base64 for binary data).' },
  INVALID_OPTION: { statusCode: 400, description: 'An unknown tree option name, or a tree option with a value of the wrong type or range.' },
  UNSUPPORTED_OPTION: { statusCode: 400, description: 'A known tree option this server cannot honour yet (lz4, zstdDictionary, encryption, blobThresholdBytes > 0, compaction other than leveled).' },
  NO_MERGE_OPERATOR: { statusCode: 400, description: 'A merge on a tree created without a merge operator.' },
  INVALID_OPERAND: { statusCode: 400, description: "A merge operand does not fit the tree's merge operator (counter takes exactly 8 bytes)." },
  INVALID_CURSOR: { statusCode: 400, description: 'A scan cursor is malformed, forged, from another tree, or a repeated parameter differs from the one the cursor was made with.' },
  INVALID_ARGUMENT: { statusCode: 400, description: "A value outside its domain, e.g. a seqno ahead of the tree's newest seqno, or deleteRange with start > end." },
  INVALID_ARCHIVE: { statusCode: 400, description: 'A restore upload is not a valid backup archive: truncated, corrupt, tampered with (size or SHA-256 against BACKUP.json), hostile (absolute paths, .., links, devices, unlisted or duplicate entries) or over --max-restore-bytes. Nothing is left behind.' },
  UNAUTHORIZED: { statusCode: 401, description: 'The Authorization: Bearer token is missing or unknown.' },
  FORBIDDEN: { statusCode: 403, description: "The token's role does not allow this route." },
  ROUTE_NOT_FOUND: { statusCode: 404, description: 'No route has this method and path.' },
  TREE_NOT_FOUND: { statusCode: 404, description: 'No tree has this name.' },
  KEY_NOT_FOUND: { statusCode: 404, description: 'The key has no value at the read seqno.' },
  SNAPSHOT_NOT_FOUND: { statusCode: 404, description: 'No live snapshot of the tree has this seqno (never made, released or expired).' },
  CHECKPOINT_NOT_FOUND: { statusCode: 404, description: 'The tree has no named checkpoint with this id (never made, or deleted).' },
  TREE_EXISTS: { statusCode: 409, description: 'A tree with this name exists (or is being created).' },
  READ_ONLY_FOLLOWER: { statusCode: 409, description: 'A write sent to a follower; the Location header names the leader.' },
  INVALID_MIN_SEQNO: { statusCode: 400, description: 'The X-Min-Seqno header is not a decimal integer.' },
  FILE_NOT_FOUND: { statusCode: 404, description: 'No live table or blob file has this id: compacted away and no replication lease pins it (take a new delta).' },
  LEASE_NOT_FOUND: { statusCode: 404, description: 'No live replication lease has this id (released or expired).' },
  VERSION_GONE: { statusCode: 410, description: 'A replication delta cannot be served from this version (older than the edit history, or newer than the current version): bootstrap again from /checkpoint.' },
  WAL_GONE: { statusCode: 410, description: 'The WAL records after this seqno are in tables now: catch up with a delta, then stream again.' },
  RANGE_NOT_SATISFIABLE: { statusCode: 416, description: 'The Range starts past the end of the file; Content-Range names its size.' },
  TOO_MANY_LEASES: { statusCode: 429, description: 'The tree has the most replication leases it may hold; release some or wait for them to expire.' },
  FOLLOWER_BEHIND: { statusCode: 503, description: 'A follower had not applied the seqno of X-Min-Seqno within 5 s.' },
  SEQNO_UNAVAILABLE: { statusCode: 410, description: 'A read as of a seqno whose history compaction may have dropped and that no live snapshot pins.' },
  BODY_TOO_LARGE: { statusCode: 413, description: 'The request body is over the configured limit (default 64 MiB).' },
  VALUE_TOO_LARGE: { statusCode: 413, description: 'A value is over the largest value the engine stores (256 MiB).' },
  URI_TOO_LONG: { statusCode: 414, description: 'A path parameter is longer than the router accepts.' },
  UNSUPPORTED_MEDIA_TYPE: { statusCode: 415, description: 'The Content-Type is not the one the route takes (application/json, or application/octet-stream for raw values).' },
  TOO_MANY_SNAPSHOTS: { statusCode: 429, description: 'The tree already pins the most snapshots it may; release some or wait for them to expire.' },
  TOO_MANY_CHECKPOINTS: { statusCode: 429, description: 'The tree already keeps 64 named checkpoints (delete some), or the server streams 32 checkpoints already (retry later).' },
  INTERNAL: { statusCode: 500, description: 'An unexpected server error; details are in the server log only.' },
  CORRUPTION: { statusCode: 500, description: "The engine found corrupt data in one of the tree's files; details are in the server log." },
  IO: { statusCode: 500, description: 'The operating system failed an I/O call; details are in the server log.' },
  READ_ONLY: { statusCode: 503, description: 'The tree is read-only after a background failure (e.g. disk full); reads still work.' },
  TREE_UNAVAILABLE: { statusCode: 503, description: 'The tree exists on disk but could not be opened at startup (see the server log); it can be dropped.' },
  CLOSED: { statusCode: 503, description: 'The tree is closing (dropped or server shutting down).' },
  LOCKED: { statusCode: 503, description: "Another process holds the tree's lock." },
} as const satisfies Record<string, { statusCode: number; description: string }>

export type HttpErrorCode = keyof typeof ERROR_REGISTRY

export interface ErrorBody {
  statusCode: number
  code: HttpErrorCode
  error: string
  message: string
}

/** An error with a registry code; the error handler answers it as is. */
export class HttpError extends Error {
  readonly statusCode: number
  readonly headers: Record<string, string>

  constructor(
    readonly code: HttpErrorCode,
    message: string,
    headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'HttpError'
    this.statusCode = ERROR_REGISTRY[code].statusCode
    this.headers = headers
  }
}

export function httpError(code: HttpErrorCode, message: string, headers?: Record<string, string>): HttpError {
  return new HttpError(code, message, headers)
}

/** The answer body for `code`. */
export function errorBody(code: HttpErrorCode, message: string): ErrorBody {
  const statusCode: number = ERROR_REGISTRY[code].statusCode
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message }
}

/** Messages of server-side failures (every engine 5xx): fixed text, the cause goes to the log. */
const SERVER_SIDE_MESSAGES: Partial<Record<HttpErrorCode, string>> = {
  INTERNAL: 'internal server error',
  CORRUPTION: 'the tree has corrupt data; see the server log',
  IO: 'an I/O operation failed on the server; see the server log',
  READ_ONLY: 'the tree is read-only after a background failure (reads still work); see the server log',
  CLOSED: 'the tree is closing (dropped, or the server is shutting down)',
  LOCKED: "another process holds the tree's lock",
}

/** Engine codes whose meaning is the same over HTTP. Others (UNSUPPORTED, WRONG_KEY, ...) are INTERNAL. */
const ENGINE_CODES: Record<string, HttpErrorCode> = {
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  VERSION_GONE: 'VERSION_GONE',
  WAL_GONE: 'WAL_GONE',
  TOO_MANY_LEASES: 'TOO_MANY_LEASES',
  INVALID_OPERAND: 'INVALID_OPERAND',
  NO_MERGE_OPERATOR: 'NO_MERGE_OPERATOR',
  SEQNO_UNAVAILABLE: 'SEQNO_UNAVAILABLE',
  READ_ONLY: 'READ_ONLY',
  CLOSED: 'CLOSED',
  LOCKED: 'LOCKED',
  CORRUPTION: 'CORRUPTION',
  IO: 'IO',
}

/**
 * The HttpError for an engine StrataError (by its code), or undefined for anything else. The
 * engine's messages carry no paths or keys; server-side codes get a fixed message anyway.
 */
export function fromEngineError(error: unknown): HttpError | undefined {
  if (!isStrataError(error)) return undefined
  const code = ENGINE_CODES[error.code] ?? 'INTERNAL'
  return new HttpError(code, SERVER_SIDE_MESSAGES[code] ?? error.message)
}

/** The fixed message of a server-side code, or `message`. */
export function publicMessage(code: HttpErrorCode, message: string): string {
  return SERVER_SIDE_MESSAGES[code] ?? message
}
