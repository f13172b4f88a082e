/**
 * Errors of src/backup. An archive that is truncated, corrupt, tampered with or hostile is an
 * InvalidArchiveError (HTTP 400 INVALID_ARCHIVE): its message says why, in words that name no
 * server path (entry names come from the archive and are quoted, bounded in length).
 * Local failures (disk full, I/O errors) are not the archive's fault and keep their own codes.
 */

export class InvalidArchiveError extends Error {
  override readonly name = 'InvalidArchiveError'
  readonly code = 'INVALID_ARCHIVE'
}

export function invalidArchive(reason: string): InvalidArchiveError {
  return new InvalidArchiveError(reason)
}

export function isInvalidArchive(error: unknown): error is InvalidArchiveError {
  return error instanceof InvalidArchiveError
}

/** Longest entry name quoted in a message: a hostile name cannot flood a log line. */
const QUOTED_CHARS_MAX = 80

/** `name` for a message: JSON-quoted (control bytes escaped), cut to QUOTED_CHARS_MAX. */
export function quoteName(name: string): string {
  const cut = name.length > QUOTED_CHARS_MAX ? `${name.slice(0, QUOTED_CHARS_MAX)}...` : name
  return JSON.stringify(cut)
}
