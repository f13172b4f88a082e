/**
 * zstd streaming as async generators over zstd-napi's context bindings, with real backpressure.
 *
 * Why not zstd-napi's DecompressStream: its _transform decompresses a whole input chunk and
 * pushes every output buffer at once, ignoring backpressure, so a small hostile chunk (zstd
 * reaches ratios of ~30,000:1) would be expanded into memory whole. Here each output buffer is
 * yielded and the next one is produced only when the consumer asks for it.
 *
 * Limits: decompression refuses frames whose window exceeds 2^ZSTD_WINDOW_LOG_MAX bytes, which
 * bounds the decoder's memory (zstd's own default allows 128 MiB). Our archives are compressed
 * at level ZSTD_LEVEL, whose window is 2 MiB; `zstd` at its default level (3) uses 2-4 MiB.
 */
import binding from 'zstd-napi/binding.js'

/** DO NOT CHANGE lightly: what `file` and `zstd -d` recognise (RFC 8878 frame magic, little endian). */
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd])
/** Compression level of `.tar.zst` archives: level 1 is ~3x faster than 3 and tables are often compressed already. */
export const ZSTD_LEVEL = 1
/** zstd worker threads: compression runs off the event loop (the calls below return quickly). */
export const ZSTD_WORKERS = 1
/** Largest window accepted when decompressing: 16 MiB bounds the decoder's memory. */
export const ZSTD_WINDOW_LOG_MAX = 24

const OUT_BYTES = binding.dStreamOutSize()

/**
 * `input` compressed as one zstd frame. `consumed(chunk)` is called once the compressor has
 * copied all of an input chunk (compressStream2 copies what it consumes): the chunk is free then.
 */
export async function* zstdCompress(
  input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  level = ZSTD_LEVEL,
  consumed?: (chunk: Uint8Array) => void,
): AsyncGenerator<Buffer> {
  const cctx = new binding.CCtx()
  cctx.setParameter(binding.CParameter.compressionLevel, level)
  cctx.setParameter(binding.CParameter.checksumFlag, 1)
  cctx.setParameter(binding.CParameter.nbWorkers, ZSTD_WORKERS)
  const outSize = binding.cStreamOutSize()
  for await (const chunk of input) {
    let src: Uint8Array = chunk
    while (src.length > 0) {
      const dst = Buffer.allocUnsafe(outSize)
      const [, produced, used] = cctx.compressStream2(dst, src, binding.EndDirective.continue)
      src = src.subarray(used)
      if (produced > 0) yield dst.subarray(0, produced)
    }
    consumed?.(chunk)
  }
  for (;;) {
    const dst = Buffer.allocUnsafe(outSize)
    const [remaining, produced] = cctx.compressStream2(dst, Buffer.alloc(0), binding.EndDirective.end)
    if (produced > 0) yield dst.subarray(0, produced)
    if (remaining === 0) return
  }
}

/** Thrown for a damaged or truncated zstd stream; the caller maps it to its own error. */
export class ZstdFormatError extends Error {
  override readonly name = 'ZstdFormatError'
}

/** `input` (one or more zstd frames) decompressed; throws ZstdFormatError on damage or truncation. */
export async function* zstdDecompress(input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Buffer> {
  const dctx = new binding.DCtx()
  dctx.setParameter(binding.DParameter.windowLogMax, ZSTD_WINDOW_LOG_MAX)
  let inFrame = false
  for await (const chunk of input) {
    let src: Uint8Array = chunk
    for (;;) {
      const dst = Buffer.allocUnsafe(OUT_BYTES)
      let result: [number, number, number]
      try {
        result = dctx.decompressStream(dst, src) as [number, number, number]
      } catch (error) {
        throw new ZstdFormatError(`the zstd data is damaged (${(error as Error).message})`)
      }
      const [remaining, produced, consumed] = result
      src = src.subarray(consumed)
      inFrame = remaining !== 0
      if (produced > 0) yield dst.subarray(0, produced)
      // Done with this chunk once its input is used up and the decoder has nothing more to flush.
      if (src.length === 0 && (produced < dst.length || remaining === 0)) break
    }
  }
  if (inFrame) throw new ZstdFormatError('the zstd data ends in the middle of a frame (truncated)')
}
