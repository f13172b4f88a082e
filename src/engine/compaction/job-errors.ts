/**
 * StrataErrors cross the worker boundary as plain data and are rebuilt on the main thread with
 * their code, file and offset, so a corruption found by a compaction worker is reported exactly
 * like one found by a read.
 */
import { StrataError, ErrorCode, type ErrorCode as Code } from '../errors.js'

export interface SerializedError {
  code: string
  message: string
  file?: string
  offset?: number
  causeCode?: string
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof StrataError) {
    const cause = error.cause as { code?: unknown } | undefined
    return {
      code: error.code,
      message: error.message,
      ...(error.file === undefined ? {} : { file: error.file }),
      ...(error.offset === undefined ? {} : { offset: error.offset }),
      ...(typeof cause?.code === 'string' ? { causeCode: cause.code } : {}),
    }
  }
  return { code: ErrorCode.IO, message: error instanceof Error ? error.message : String(error) }
}

export function reviveError(data: SerializedError): StrataError {
  const codes = Object.values(ErrorCode) as string[]
  const code = (codes.includes(data.code) ? data.code : ErrorCode.IO) as Code
  const cause = data.causeCode === undefined ? undefined : Object.assign(new Error(data.causeCode), { code: data.causeCode })
  return new StrataError(code, data.message, {
    ...(data.file === undefined ? {} : { file: data.file }),
    ...(data.offset === undefined ? {} : { offset: data.offset }),
    ...(cause === undefined ? {} : { cause }),
  })
}
