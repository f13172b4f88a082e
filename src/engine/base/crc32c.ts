/**
 * CRC-32C (Castagnoli), slice-by-8, plus LevelDB's masking. A CRC stored next to the data it
 * covers is masked, so that a CRC computed over bytes that themselves embed CRCs stays well
 * distributed (leveldb util/crc32c.h).
 */
const POLY = 0x82f63b78
const TABLES: Uint32Array[] = []
for (let t = 0; t < 8; t++) TABLES.push(new Uint32Array(256))
{
  const t0 = TABLES[0] as Uint32Array
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1
    t0[i] = c >>> 0
  }
  for (let i = 0; i < 256; i++) {
    let c = t0[i] as number
    for (let t = 1; t < 8; t++) {
      c = (t0[c & 0xff] as number) ^ (c >>> 8)
      ;(TABLES[t] as Uint32Array)[i] = c >>> 0
    }
  }
}
const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [
  Uint32Array, Uint32Array, Uint32Array, Uint32Array,
  Uint32Array, Uint32Array, Uint32Array, Uint32Array,
]

/** Extends `crc` (0 for a fresh computation) over `data[start, end)`. */
export function crc32cUpdate(crc: number, data: Uint8Array, start = 0, end = data.length): number {
  let c = ~crc >>> 0
  let i = start
  const stop8 = end - ((end - i) & 7)
  while (i < stop8) {
    const lo = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0
    c =
      T7[lo & 0xff]! ^ T6[(lo >>> 8) & 0xff]! ^ T5[(lo >>> 16) & 0xff]! ^ T4[lo >>> 24]! ^
      T3[data[i + 4]!]! ^ T2[data[i + 5]!]! ^ T1[data[i + 6]!]! ^ T0[data[i + 7]!]!
    i += 8
  }
  while (i < end) c = T0[(c ^ data[i++]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}

export function crc32c(data: Uint8Array, start = 0, end = data.length): number {
  return crc32cUpdate(0, data, start, end)
}

const MASK_DELTA = 0xa282ead8

export function maskCrc(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + MASK_DELTA) >>> 0
}

export function unmaskCrc(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0
  return ((rot >>> 17) | (rot << 15)) >>> 0
}
