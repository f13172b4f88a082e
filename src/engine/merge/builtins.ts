/**
 * Built-in merge operators, named in tree options:
 * - `counter`: operands and result are signed 64-bit little-endian integers, summed (wrapping
 *   at 64 bits like two's complement hardware). A base value that is not 8 bytes counts as 0.
 * - `append`: byte concatenation, older bytes first.
 * - `max`: the bytewise maximum.
 */
import { StrataError, ErrorCode } from '../errors.js'
import type { MergeOperator, ValueMerger } from './merge-operator.js'

const MASK64 = (1n << 64n) - 1n

function readI64(data: Uint8Array): bigint {
  if (data.length !== 8) return 0n
  return Buffer.from(data.buffer, data.byteOffset, 8).readBigInt64LE(0)
}

class CounterMerger implements ValueMerger {
  private sum: bigint
  constructor(operand: Uint8Array) {
    this.sum = readI64(operand)
  }
  mergeNewer(operand: Uint8Array): void {
    this.sum = (this.sum + readI64(operand)) & MASK64
  }
  mergeOlder(operand: Uint8Array): void {
    this.mergeNewer(operand)
  }
  finish(): Buffer {
    const out = Buffer.allocUnsafe(8)
    out.writeBigUInt64LE(this.sum & MASK64, 0)
    return out
  }
}

export const counterOperator: MergeOperator = {
  name: 'counter',
  validateOperand(operand) {
    if (operand.length !== 8) {
      throw new StrataError(ErrorCode.INVALID_OPERAND, 'counter operands are exactly 8 bytes (i64 LE)')
    }
  },
  start: (_key, operand) => new CounterMerger(operand),
}

class AppendMerger implements ValueMerger {
  private parts: Uint8Array[]
  constructor(operand: Uint8Array) {
    this.parts = [operand]
  }
  mergeNewer(operand: Uint8Array): void {
    this.parts.push(operand)
  }
  mergeOlder(operand: Uint8Array): void {
    this.parts.unshift(operand)
  }
  finish(): Buffer {
    return Buffer.concat(this.parts)
  }
}

export const appendOperator: MergeOperator = {
  name: 'append',
  validateOperand() {},
  start: (_key, operand) => new AppendMerger(operand),
}

class MaxMerger implements ValueMerger {
  private best: Uint8Array
  constructor(operand: Uint8Array) {
    this.best = operand
  }
  mergeNewer(operand: Uint8Array): void {
    if (Buffer.compare(operand, this.best) > 0) this.best = operand
  }
  mergeOlder(operand: Uint8Array): void {
    this.mergeNewer(operand)
  }
  finish(): Buffer {
    return Buffer.from(this.best)
  }
}

export const maxOperator: MergeOperator = {
  name: 'max',
  validateOperand() {},
  start: (_key, operand) => new MaxMerger(operand),
}

export const builtinMergeOperators: Readonly<Record<string, MergeOperator>> = {
  counter: counterOperator,
  append: appendOperator,
  max: maxOperator,
}

/** Resolves a built-in by name, or passes a user operator through. */
export function resolveMergeOperator(op: string | MergeOperator | undefined): MergeOperator | undefined {
  if (op === undefined) return undefined
  if (typeof op !== 'string') return op
  const found = builtinMergeOperators[op]
  if (!found) throw new StrataError(ErrorCode.INVALID_ARGUMENT, `unknown merge operator '${op}'`)
  return found
}
