/**
 * A memtable's entries as one flat buffer, so a flush can be handed to a worker thread with a
 * single transfer (no per-entry structured clone). Encoding runs on the main thread in slices
 * that yield to the event loop, so a 64 MiB memtable never blocks it for long.
 *
 * Memory (measured, docs/benchmarks.md "Read path and memory work"): the buffer is allocated at
 * its exact size after a counting pass (the memtable is immutable by then, so both passes see the
 * same entries) and transferred as is — no growth copies, no final copy — and the worker decodes
 * it as it goes instead of building one object per entry. This took a 1M fill's peak RSS from
 * ~530 to ~370 MiB.
 *
 * Layout (in memory only, never on disk):
 *   count u32 LE | entries: kind u8 | seqno u64 LE | key length varint | key | value length varint | value
 */
import { assert } from '../base/assert.js'
import { ByteReader, putVarint, varintLength, writeFixed64 } from '../base/coding.js'
import type { KeyKind } from '../base/internal-key.js'
import type { InternalIterator } from '../iterator/internal-iterator.js'

/** Longest stretch the encoder runs before yielding to the event loop. */
const SLICE_MS_MAX = 2

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Calls `visit` for every entry of `it` from first(), yielding to the event loop every ~2 ms. */
async function forEachSliced(it: InternalIterator, visit: () => void): Promise<number> {
  let count = 0
  let sliceStart = performance.now()
  for (it.first(); it.valid; it.next()) {
    visit()
    count++
    if ((count & 1023) === 0 && performance.now() - sliceStart > SLICE_MS_MAX) {
      await yieldToEventLoop()
      sliceStart = performance.now()
    }
  }
  return count
}

/**
 * Encodes every entry of `it` into a buffer that owns its ArrayBuffer (safe to transfer).
 * Requires: `it` yields the same entries on both passes (an immutable memtable's iterator).
 */
export async function encodeEntryStream(it: InternalIterator): Promise<Uint8Array> {
  let exactBytes = 4
  const counted = await forEachSliced(it, () => {
    const k = it.key.length
    const v = it.value.length
    exactBytes += 9 + varintLength(k) + k + varintLength(v) + v
  })
  // Not zero-filled (a 47 MiB fill is ~10 ms of event loop): every byte is written below, which
  // the assertion after the pass checks (pos === exactBytes). allocUnsafeSlow never pools, so the
  // ArrayBuffer is exactly this buffer and can be transferred.
  const out = Buffer.allocUnsafeSlow(exactBytes)
  let pos = 4
  const written = await forEachSliced(it, () => {
    out[pos] = it.kind
    writeFixed64(out, pos + 1, it.seqno)
    pos = putVarint(out, pos + 9, it.key.length)
    out.set(it.key, pos)
    pos = putVarint(out, pos + it.key.length, it.value.length)
    out.set(it.value, pos)
    pos += it.value.length
  })
  assert(written === counted && pos === exactBytes, 'the memtable changed between the two encoding passes')
  out.writeUInt32LE(counted, 0)
  assert(out.byteOffset === 0 && out.buffer.byteLength === exactBytes, 'the stream owns its ArrayBuffer')
  return new Uint8Array(out.buffer)
}

/**
 * A forward-only cursor over an entry stream; entries are views into the stream's buffer.
 * Only first/next are supported (the flush reads the stream once, in order).
 */
export interface EntryStreamCursor {
  readonly valid: boolean
  readonly key: Buffer
  readonly seqno: number
  readonly kind: KeyKind
  readonly value: Buffer
  first(): void
  next(): void
  close(): void
}

class StreamCursor implements EntryStreamCursor {
  valid = false
  key: Buffer = Buffer.alloc(0)
  value: Buffer = Buffer.alloc(0)
  seqno = 0
  kind = 0 as KeyKind
  #reader: ByteReader
  #left = 0
  readonly #count: number

  constructor(private readonly data: Buffer) {
    this.#reader = new ByteReader(data)
    this.#count = this.#reader.u32()
  }

  first(): void {
    this.#reader = new ByteReader(this.data)
    this.#reader.u32()
    this.#left = this.#count
    this.next()
  }

  next(): void {
    if (this.#left === 0) {
      assert(this.#reader.done, 'entry stream has trailing bytes')
      this.valid = false
      return
    }
    this.#left--
    const r = this.#reader
    this.kind = r.u8() as KeyKind
    this.seqno = r.u64()
    this.key = r.lengthPrefixed()
    this.value = r.lengthPrefixed()
    this.valid = true
  }

  close(): void {}
}

/** A cursor over an entry stream (made by encodeEntryStream in this process or another thread). */
export function decodeEntryStream(data: Uint8Array): EntryStreamCursor {
  return new StreamCursor(Buffer.from(data.buffer, data.byteOffset, data.byteLength))
}
