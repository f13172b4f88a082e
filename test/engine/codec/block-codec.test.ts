/**
 * Block codec: round trips with none and zstd, the 12.5 % rule, checksum-first decoding,
 * bounded decompression, reserved and unknown types, golden trailer bytes.
 */
import t from 'tap'
import { putVarint } from '../../../src/engine/base/coding.js'
import { crc32c, maskCrc } from '../../../src/engine/base/crc32c.js'
import { blockChecksum, compressionWorthIt, createBlockCodec, type BlockLocation } from '../../../src/engine/codec/block-codec.js'
import { BLOCK_TRAILER_BYTES, BlockKind, CompressionType } from '../../../src/engine/codec/block-kind.js'
import { zstdCompressor } from '../../../src/engine/codec/compression.js'
import { ErrorCode, isCorruption, isStrataError } from '../../../src/engine/errors.js'
import { BLOCK_RAW_BYTES_MAX } from '../../../src/engine/options.js'
import { seededRandom } from '../../helpers/sstable-random.js'

const at: BlockLocation = { fileNumber: 3, offset: 4096, kind: BlockKind.Data }

function compressible(n: number): Buffer {
  const out = Buffer.alloc(n)
  for (let i = 0; i < n; i++) out[i] = 0x61 + ((i >> 3) % 4)
  return out
}

/** A physical block with `payload`, `type` and a valid trailer. */
function physical(payload: Buffer, type: number): Buffer {
  const trailer = Buffer.alloc(BLOCK_TRAILER_BYTES)
  trailer[0] = type
  trailer.writeUInt32LE(blockChecksum(payload, type), 1)
  return Buffer.concat([payload, trailer])
}

function errorOf(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

t.test('golden: a raw block is payload | 00 | masked crc32c(payload || 00)', async (t) => {
  const codec = createBlockCodec({ compression: 'none' })
  const out = codec.encode(Buffer.from('abc'), at)
  const crc = maskCrc(crc32c(Buffer.from([0x61, 0x62, 0x63, 0x00])))
  const crcHex = Buffer.alloc(4)
  crcHex.writeUInt32LE(crc)
  t.equal(out.toString('hex'), '616263' + '00' + crcHex.toString('hex'))
  // literal, so a change in the crc or masking code cannot pass unnoticed
  t.equal(out.toString('hex'), '616263' + '00' + '00541bbf')
  t.equal(blockChecksum(Buffer.from('abc'), 0), crc, 'blockChecksum agrees')
})

t.test('round trips: none and zstd, both decoded by any codec', async (t) => {
  const rng = seededRandom(t.comment.bind(t))
  const none = createBlockCodec({ compression: 'none' })
  const zstd = createBlockCodec({ compression: 'zstd', zstdLevel: 3 })
  for (let i = 0; i < 200; i++) {
    const n = rng.range(0, 9000)
    const raw = rng.bool() ? compressible(n) : rng.bytes(n)
    for (const writer of [none, zstd]) {
      const encoded = writer.encode(raw, at)
      for (const reader of [none, zstd]) {
        const decoded = reader.decode(encoded, at, '000003.sst')
        if (!decoded.equals(raw)) t.fail(`round trip of ${n} bytes`)
      }
    }
  }
  t.pass('200 random blocks round-trip through every writer/reader pair')
})

t.test('compression is kept only when it saves at least 12.5 %', async (t) => {
  const zstd = createBlockCodec({ compression: 'zstd' })
  const text = compressible(4096)
  const encoded = zstd.encode(text, at)
  t.equal(encoded[encoded.length - 5], CompressionType.Zstd, 'compressible block stored as zstd')
  t.ok(encoded.length < text.length / 4, 'and much smaller')
  const rng = seededRandom(t.comment.bind(t))
  const noise = rng.bytes(4096)
  const stored = zstd.encode(noise, at)
  t.equal(stored[stored.length - 5], CompressionType.None, 'incompressible block stored raw')
  t.equal(stored.length, noise.length + BLOCK_TRAILER_BYTES)
  t.equal(zstd.encode(Buffer.alloc(0), at).length, BLOCK_TRAILER_BYTES, 'empty block stored raw')
  t.ok(compressionWorthIt(800, 699), '699 of 800 saves > 1/8')
  t.notOk(compressionWorthIt(800, 700), '700 of 800 saves exactly 1/8: not kept')
  t.notOk(compressionWorthIt(0, 0))
})

t.test('checksum is verified first: every flipped bit is CORRUPTION naming file and offset', async (t) => {
  const codec = createBlockCodec({ compression: 'zstd' })
  for (const raw of [compressible(700), Buffer.from('short raw block')]) {
    const good = codec.encode(raw, at)
    let bad = 0
    for (let i = 0; i < good.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const copy = Buffer.from(good)
        copy[i] = copy[i]! ^ (1 << bit)
        const err = errorOf(() => codec.decode(copy, at, '000003.sst'))
        if (!isCorruption(err) || err.file !== '000003.sst' || err.offset !== 4096) bad++
      }
    }
    t.equal(bad, 0, `all ${good.length * 8} single-bit flips detected`)
  }
  const err = errorOf(() => codec.decode(Buffer.alloc(4), at, '000003.sst'))
  t.ok(isCorruption(err), 'shorter than a trailer')
  t.match(String((err as Error).message), /000003\.sst at offset 4096/)
})

t.test('decompression is bounded and must produce exactly the stated length', async (t) => {
  const codec = createBlockCodec({ compression: 'none' })
  const frame = zstdCompressor(3).compress(compressible(1000)).subarray(2) // strip varint 1000 (2 bytes)
  const withLength = (n: number) => {
    const prefix = Buffer.alloc(10)
    const end = putVarint(prefix, 0, n)
    return physical(Buffer.concat([prefix.subarray(0, end), frame]), CompressionType.Zstd)
  }
  t.equal(codec.decode(withLength(1000), at, 'f.sst').length, 1000, 'the honest length decodes')
  for (const lie of [999, 10, 0, 1001, BLOCK_RAW_BYTES_MAX + 1, 2 ** 40]) {
    const err = errorOf(() => codec.decode(withLength(lie), at, 'f.sst'))
    t.ok(isCorruption(err), `stated raw length ${lie} => CORRUPTION`)
  }
  const garbage = physical(Buffer.from([0x05, 1, 2, 3, 4, 5, 6]), CompressionType.Zstd)
  t.ok(isCorruption(errorOf(() => codec.decode(garbage, at, 'f.sst'))), 'not a zstd frame => CORRUPTION')
})

t.test('reserved types are UNSUPPORTED, unknown types CORRUPTION', async (t) => {
  const codec = createBlockCodec({ compression: 'none' })
  for (const type of [CompressionType.Lz4, CompressionType.ZstdDict]) {
    const err = errorOf(() => codec.decode(physical(Buffer.from('x'), type), at, 'f.sst'))
    t.ok(isStrataError(err, ErrorCode.UNSUPPORTED), `type ${type} => UNSUPPORTED`)
  }
  for (const type of [4, 0x7f, 0xff]) {
    const err = errorOf(() => codec.decode(physical(Buffer.from('x'), type), at, 'f.sst'))
    t.ok(isCorruption(err), `type ${type} => CORRUPTION`)
  }
})

t.test('programmer errors are assertions', async (t) => {
  const codec = createBlockCodec({ compression: 'none' })
  t.throws(() => codec.encode(Buffer.from('x'), { ...at, offset: -1 }), /block offset/)
  t.throws(() => codec.encode(Buffer.from('x'), { ...at, kind: 9 as BlockKind }), /block kind/)
  t.throws(() => createBlockCodec({ compression: 'lz4' as 'none' }), /compression name/)
  t.throws(() => zstdCompressor(0), /zstd level/)
})
