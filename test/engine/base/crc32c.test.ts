/**
 * crc32c: RFC 3720 check vectors, every alignment and length against a bitwise reference
 * (the word path reads aligned Int32 words, so the head/middle/tail split must not matter),
 * incremental updates, and masking round trips.
 */
import t from 'tap'
import { crc32c, crc32cUpdate, maskCrc, unmaskCrc } from '../../../src/engine/base/crc32c.js'
import { SeededRandom } from '../../helpers/sstable-random.js'

/** Bit at a time, straight from the polynomial: shares nothing with the implementation. */
function reference(data: Uint8Array): number {
  let c = 0xffffffff
  for (const byte of data) {
    c ^= byte
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  }
  return (c ^ 0xffffffff) >>> 0
}

t.test('RFC 3720 B.4 vectors', async (t) => {
  t.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa)
  t.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43)
  t.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e)
  t.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c)
  t.equal(crc32c(Buffer.from('123456789')), 0xe3069283)
  t.equal(crc32c(Buffer.alloc(0)), 0)
})

t.test('every alignment and length agrees with the bitwise reference', async (t) => {
  const backing = new SeededRandom(11).bytes(5000)
  let checked = 0
  for (const length of [0, 1, 3, 15, 16, 63, 64, 65, 100, 127, 128, 129, 1000, 4096, 4101]) {
    for (let offset = 0; offset < 8; offset++) {
      const view = backing.subarray(offset, offset + length)
      t.equal(crc32c(view), reference(view), `length ${length} at byte offset ${offset}`)
      // Range arguments on the whole buffer instead of a view.
      t.equal(crc32c(backing, offset, offset + length), reference(view))
      checked++
    }
  }
  t.equal(checked, 15 * 8)
  // A view over a plain Uint8Array on a shifted ArrayBuffer.
  const u8 = new Uint8Array(backing.buffer, backing.byteOffset + 3, 4093)
  t.equal(crc32c(u8), reference(u8))
})

t.test('incremental updates equal one pass', async (t) => {
  const data = new SeededRandom(5).bytes(3001)
  const whole = crc32c(data)
  for (const cut of [0, 1, 7, 64, 65, 1500, 3000, 3001]) {
    t.equal(crc32cUpdate(crc32c(data, 0, cut), data, cut), whole, `cut at ${cut}`)
  }
})

t.test('mask and unmask are inverse and change the value', async (t) => {
  for (const crc of [0, 1, 0xe3069283, 0xffffffff, 0x80000000]) {
    t.equal(unmaskCrc(maskCrc(crc)), crc)
    t.not(maskCrc(crc), crc)
  }
})
