/**
 * Header and footer: golden bytes, round trip, and the check order on open (magic, version
 * agreement => UNSUPPORTED, footer crc, header/footer version mismatch, flags, salt, handles).
 */
import t from 'tap'
import { crc32c, maskCrc } from '../../../src/engine/base/crc32c.js'
import { ErrorCode, isCorruption, isStrataError } from '../../../src/engine/errors.js'
import {
  ABSENT_HANDLE, decodeTableEnds, encodeFooter, encodeHeader, type Footer, FOOTER_BYTES, HEADER_BYTES,
  TABLE_FORMAT_VERSION,
} from '../../../src/engine/sstable/format.js'

const footer: Footer = {
  index: { offset: 300, size: 20 },
  properties: { offset: 200, size: 95 },
  filter: { offset: 100, size: 10 },
  rangeDel: ABSENT_HANDLE,
  formatVersion: TABLE_FORMAT_VERSION,
}
const FILE_SIZE = 325 + FOOTER_BYTES

function errorOf(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

t.test('golden header: magic | version 1 | flags 0 | zero salt', async (t) => {
  t.equal(encodeHeader().toString('hex'), '5354524154535354' + '01000000' + '00000000' + '00'.repeat(16))
  t.equal(HEADER_BYTES, 32)
})

t.test('golden footer: four handles | version | masked crc | magic', async (t) => {
  const body =
    '2c01000000000000' + '14000000' + // index (300, 20)
    'c800000000000000' + '5f000000' + // properties (200, 95)
    '6400000000000000' + '0a000000' + // filter (100, 10)
    '0000000000000000' + '00000000' + // range-del absent
    '01000000' // version
  const crc = Buffer.alloc(4)
  crc.writeUInt32LE(maskCrc(crc32c(Buffer.from(body, 'hex'))))
  const encoded = encodeFooter(footer)
  t.equal(encoded.length, FOOTER_BYTES)
  t.equal(encoded.toString('hex'), body + crc.toString('hex') + '5354524154535354')
})

t.test('decodeTableEnds round trip', async (t) => {
  const { header, footer: decoded } = decodeTableEnds(encodeHeader(), encodeFooter(footer), 'a.sst', FILE_SIZE)
  t.same(decoded, footer)
  t.equal(header.flags, 0)
  t.equal(header.salt.length, 16)
})

t.test('check order on open', async (t) => {
  const expect = (mutate: (h: Buffer, f: Buffer) => void, code: string, what: string, size = FILE_SIZE) => {
    const h = encodeHeader()
    const f = encodeFooter(footer)
    mutate(h, f)
    const err = errorOf(() => decodeTableEnds(h, f, 'a.sst', size))
    t.ok(isStrataError(err) && err.code === code, `${what}: ${code}`)
    t.equal((err as { file?: string }).file, 'a.sst', `${what}: names the file`)
    t.notMatch(String((err as Error).message), /\//, `${what}: no path in the message`)
  }
  const refreshCrc = (f: Buffer) => f.writeUInt32LE(maskCrc(crc32c(f, 0, 52)), 52)
  expect((_, f) => { f[63] = 0 }, ErrorCode.CORRUPTION, 'footer magic')
  expect((h) => { h[0] = 0 }, ErrorCode.CORRUPTION, 'header magic')
  expect((h, f) => { h.writeUInt32LE(2, 8); f.writeUInt32LE(2, 48) }, ErrorCode.UNSUPPORTED, 'both say version 2 (stale crc)')
  expect((h, f) => { h.writeUInt32LE(2, 8); f.writeUInt32LE(2, 48); refreshCrc(f) }, ErrorCode.UNSUPPORTED, 'version 2')
  expect((_, f) => { f.writeUInt32LE(2, 48) }, ErrorCode.CORRUPTION, 'footer version flipped alone')
  expect((h) => { h.writeUInt32LE(2, 8) }, ErrorCode.CORRUPTION, 'header version flipped alone')
  expect((_, f) => { f.writeUInt32LE(2, 48); refreshCrc(f) }, ErrorCode.UNSUPPORTED, 'footer says 2 with a valid crc')
  expect((_, f) => { f[3] ^= 1 }, ErrorCode.CORRUPTION, 'footer crc')
  expect((h) => { h[12] = 1 }, ErrorCode.UNSUPPORTED, 'encrypted flag')
  expect((h) => { h[14] = 4 }, ErrorCode.UNSUPPORTED, 'unknown flag')
  expect((h) => { h[20] = 1 }, ErrorCode.CORRUPTION, 'non-zero salt without encryption')
  expect((_, f) => { f.writeUInt32LE(1000, 8); refreshCrc(f) }, ErrorCode.CORRUPTION, 'index handle past the footer')
  expect((_, f) => { f.writeUInt32LE(4, 0); refreshCrc(f) }, ErrorCode.CORRUPTION, 'index handle inside the header')
  expect((_, f) => { f.writeUInt32LE(0, 20); f.writeUInt32LE(0, 12); refreshCrc(f) }, ErrorCode.CORRUPTION, 'missing properties')
  expect((_, f) => { f.writeUInt32LE(7, 36); refreshCrc(f) }, ErrorCode.CORRUPTION, 'absent handle with an offset')
  expect((_, f) => { f.writeUInt32LE(0x0100_0000, 28); refreshCrc(f) }, ErrorCode.CORRUPTION, 'offset beyond 2^53')
})

t.test('encoders assert their inputs', async (t) => {
  t.throws(() => encodeFooter({ ...footer, formatVersion: 2 }), /current version/)
  t.throws(() => encodeFooter({ ...footer, index: ABSENT_HANDLE }), /required/)
  t.throws(() => encodeFooter({ ...footer, filter: { offset: 5, size: 0 } }), /absent handle/)
  t.ok(isCorruption(errorOf(() => decodeTableEnds(encodeHeader(), Buffer.alloc(64), 'a.sst', 100))))
})
