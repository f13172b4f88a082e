/**
 * A memtable's entries as one flat buffer, so a flush can be handed to a worker thread with a
 * single transfer (no per-entry structured clone). Encoding runs on the main thread in slices
 * that yield to the event loop, so a 64 MiB memtable never blocks it for long.
 *
 * Layout (in memory only, never on disk):
 *   count u32 LE | entries: kind u8 | seqno u64 LE | key length varint | key | value length varint | value
 */
import { assert } from '../base/assert.js'
import { ByteReader, ByteWriter } from '../base/coding.js'
import type { KeyKind } from '../base/internal-key.js'
import type { InternalIterator } from '../iterator/internal-iterator.js'
import { VectorIterator, type VectorEntry } from '../iterator/vector-iterator.js'

/** Longest stretch the encoder runs before yielding to the event loop. */
const SLICE_MS_MAX = 2

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Encodes every entry of `it` (from first()) into a buffer that owns its ArrayBuffer. */
export async function encodeEntryStream(it: InternalIterator, approximateBytes: number): Promise<Uint8Array> {
  const w = new ByteWriter(Math.max(1024, approximateBytes))
  w.u32(0)
  let count = 0
  let sliceStart = performance.now()
  for (it.first(); it.valid; it.next()) {
    w.u8(it.kind).u64(it.seqno).lengthPrefixed(it.key).lengthPrefixed(it.value)
    count++
    if ((count & 1023) === 0 && performance.now() - sliceStart > SLICE_MS_MAX) {
      await yieldToEventLoop()
      sliceStart = performance.now()
    }
  }
  const bytes = w.finish()
  bytes.writeUInt32LE(count, 0)
  const owned = new Uint8Array(bytes.length) // its own ArrayBuffer: safe to transfer
  owned.set(bytes)
  return owned
}

/** Decodes an entry stream into an iterator (entries stay views into `data`). */
export function decodeEntryStream(data: Uint8Array): InternalIterator {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  const r = new ByteReader(buf)
  const count = r.u32()
  const entries: VectorEntry[] = new Array(count)
  for (let i = 0; i < count; i++) {
    const kind = r.u8() as KeyKind
    const seqno = r.u64()
    const key = r.lengthPrefixed()
    const value = r.lengthPrefixed()
    entries[i] = { key, seqno, kind, value }
  }
  assert(r.done, 'entry stream has trailing bytes')
  return new VectorIterator(entries)
}
