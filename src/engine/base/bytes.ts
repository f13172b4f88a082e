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

/** Bytewise comparison: negative, zero or positive. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
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
