/**
 * Assertions are for programmer errors (TigerStyle): a failed assertion means a bug in Strata,
 * never bad input or a failing disk. Operating errors are `StrataError`s (see ../errors.ts).
 */
export class AssertionError extends Error {
  constructor(message: string) {
    super(`strata: assertion failed: ${message}`)
    this.name = 'AssertionError'
  }
}

export function assert(condition: unknown, message = 'invariant violated'): asserts condition {
  if (!condition) throw new AssertionError(message)
}

export function assertNever(value: never, message = 'unexpected value'): never {
  throw new AssertionError(`${message}: ${String(value)}`)
}

/** Extra, costlier invariant checks (e.g. Version validation) run when STRATA_INVARIANTS=1. */
export const INVARIANTS = process.env['STRATA_INVARIANTS'] === '1'
