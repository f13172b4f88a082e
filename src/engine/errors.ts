/**
 * StrataError: the one error type the engine throws for operating errors.
 *
 * Codes are stable and uppercase; messages may change between releases. Messages never carry
 * absolute paths, keys or key material: a file is named by its base name (e.g. `000012.log`)
 * in `file`, and a byte position in `offset`.
 */
export const ErrorCode = {
  /** A checksum, magic, length or structure check failed on bytes read from disk or the wire. */
  CORRUPTION: 'CORRUPTION',
  /** The operating system failed an I/O call (EIO, ENOSPC, ...); `cause` holds the system error. */
  IO: 'IO',
  /** The tree (or iterator, snapshot) was closed. */
  CLOSED: 'CLOSED',
  /** A caller passed a value outside the documented domain (key length, option value, ...). */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** Another process (or another open in this process) holds the tree's lock. */
  LOCKED: 'LOCKED',
  /** The tree was created with another merge operator (or none) than the one given at open. */
  MERGE_OPERATOR_MISMATCH: 'MERGE_OPERATOR_MISMATCH',
  /** A merge was issued on a tree that has no merge operator. */
  NO_MERGE_OPERATOR: 'NO_MERGE_OPERATOR',
  /** A merge operand does not fit the operator (e.g. `counter` takes exactly 8 bytes). */
  INVALID_OPERAND: 'INVALID_OPERAND',
  /** A background failure put the tree in degraded read-only mode; `cause` is that failure. */
  READ_ONLY: 'READ_ONLY',
  /** A file or directory the caller named does not exist. */
  NOT_FOUND: 'NOT_FOUND',
  /** The file or directory the caller asked to create already exists. */
  EXISTS: 'EXISTS',
  /** A file has a format version this build does not read, or an option is not implemented. */
  UNSUPPORTED: 'UNSUPPORTED',
  /** The encryption key does not open the tree's files. */
  WRONG_KEY: 'WRONG_KEY',
  /** A read asked for a seqno whose history compaction has dropped (pin it with a snapshot). */
  SEQNO_UNAVAILABLE: 'SEQNO_UNAVAILABLE',
  /** A replication delta was asked for a version that is no longer in the edit history. */
  VERSION_GONE: 'VERSION_GONE',
  /** A WAL stream was asked to start at a seqno whose records the leader no longer holds. */
  WAL_GONE: 'WAL_GONE',
  /** Every replication lease slot is taken (see replication/leases.ts). */
  TOO_MANY_LEASES: 'TOO_MANY_LEASES',
  /** A follower was handed a delta or WAL record that does not continue what it holds. */
  REPLICA_DIVERGED: 'REPLICA_DIVERGED',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export interface StrataErrorDetails {
  cause?: unknown
  /** Base name of the file involved, never a full path. */
  file?: string
  /** Byte offset in `file` where the problem was found. */
  offset?: number
}

export class StrataError extends Error {
  readonly code: ErrorCode
  readonly file: string | undefined
  readonly offset: number | undefined

  constructor(code: ErrorCode, message: string, details: StrataErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'StrataError'
    this.code = code
    this.file = details.file
    this.offset = details.offset
  }
}

export function isStrataError(err: unknown, code?: ErrorCode): err is StrataError {
  return err instanceof StrataError && (code === undefined || err.code === code)
}

export function isCorruption(err: unknown): err is StrataError {
  return isStrataError(err, ErrorCode.CORRUPTION)
}

/** A CORRUPTION error naming the file (base name) and offset in its message. */
export function corruption(message: string, file: string, offset?: number, cause?: unknown): StrataError {
  const where = offset === undefined ? file : `${file} at offset ${offset}`
  return new StrataError(ErrorCode.CORRUPTION, `corruption in ${where}: ${message}`, {
    file,
    ...(offset === undefined ? {} : { offset }),
    ...(cause === undefined ? {} : { cause }),
  })
}

export function invalidArgument(message: string): StrataError {
  return new StrataError(ErrorCode.INVALID_ARGUMENT, message)
}
