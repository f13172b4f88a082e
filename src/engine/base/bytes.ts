/**
 * Byte helpers. Signatures take `Uint8Array`; internally everything is a Buffer (a Uint8Array
 * subclass) so that the native compare and the typed readers are available.
 */
export type Bytes = Uint8Array

export function toBuffer(data: Uint8Array | string): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8')
  if (Buffer.isBuffer(data)) return data
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}

/** Bytes compared in a JS loop before handing the rest to the native compare. */
const INLINE_COMPARE_BYTES = 64

/**
 * Bytewise comparison: negative, zero or positive (the sign of Buffer.compare). A JS loop
 * over the first bytes costs ~20 ns for a 16-byte key against ~110 ns for the native call
 * (measured on Node 20, docs/memtable.md), and keys are short.
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const common = a.length < b.length ? a.length : b.length
  const inline = common < INLINE_COMPARE_BYTES ? common : INLINE_COMPARE_BYTES
  for (let i = 0; i < inline; i++) {
    const d = (a[i] as number) - (b[i] as number)
    if (d !== 0) return d
  }
  if (inline < common) return Buffer.compare(a.subarray(inline), b.subarray(inline))
  return a.length - b.length
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

/** A fresh copy that owns its memory (safe to keep after the source buffer is reused). */
export function copyBytes(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(data.length)
  out.set(data)
  return out
}

/** The smallest byte string greater than every string starting with `prefix`, or undefined. */
export function prefixSuccessor(prefix: Uint8Array): Buffer | undefined {
  const out = Buffer.from(prefix)
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] !== 0xff) {
      out[i] = (out[i] as number) + 1
      return out.subarray(0, i + 1)
    }
  }
  return undefined
}

export function hex(data: Uint8Array): string {
  return toBuffer(data).toString('hex')
}
