/**
 * Arena: records round trip (empty, maximal keys, values from 0 B to several slabs), slabs
 * double up to SLAB_BYTES_MAX, large records get their own slab, references stay unique and
 * records never move, compareKey has the sign of Buffer.compare, and the byte counters add up.
 */
import t from 'tap'
import {
  Arena, LARGE_RECORD_BYTES, RECORD_HEADER_BYTES, SLAB_BYTES_MAX, SLAB_BYTES_MIN,
} from '../../../src/engine/memtable/arena.js'
import { seededRandom } from '../../helpers/iterator-model.js'

t.test('records round trip and never move', (t) => {
  const random = seededRandom(t)
  const arena = new Arena()
  const records: { ref: number; key: Buffer; value: Buffer }[] = []
  let recordBytes = 0
  for (let i = 0; i < 3000; i++) {
    const keyLength = i === 0 ? 65_535 : 1 + random.int(40)
    const valueLength = i % 500 === 7 ? LARGE_RECORD_BYTES + random.int(300_000) : random.int(300)
    const key = Buffer.alloc(keyLength, random.int(256))
    key[0] = random.int(256)
    const value = Buffer.alloc(valueLength, random.int(256))
    records.push({ ref: arena.append(key, value), key, value })
    recordBytes += RECORD_HEADER_BYTES + keyLength + valueLength
  }
  t.equal(new Set(records.map((r) => r.ref)).size, records.length, 'references are unique')
  let wrong = 0
  for (const r of records) {
    if (!arena.key(r.ref).equals(r.key) || !arena.value(r.ref).equals(r.value)) wrong++
  }
  t.equal(wrong, 0, 'every record reads back as appended, after all later appends')
  t.equal(arena.recordBytes, recordBytes)
  t.ok(arena.reservedBytes >= recordBytes, 'slabs hold every record')
  t.ok(arena.reservedBytes < recordBytes * 1.25 + SLAB_BYTES_MAX, 'tail slack stays small')
  t.end()
})

t.test('slabs double from the minimum to the maximum; large records are alone', (t) => {
  const arena = new Arena()
  arena.append(Buffer.from('k'), Buffer.alloc(10))
  t.equal(arena.reservedBytes, SLAB_BYTES_MIN, 'a tiny memtable reserves one small slab')
  let reserved = SLAB_BYTES_MIN
  let next = 2 * SLAB_BYTES_MIN
  // Fill slab after slab with records just under the large-record bound.
  const value = Buffer.alloc(1000)
  while (reserved < 6 * SLAB_BYTES_MAX) {
    const before = arena.reservedBytes
    arena.append(Buffer.from('k'), value)
    if (arena.reservedBytes !== before) {
      t.equal(arena.reservedBytes - before, next, `next slab is ${next} bytes`)
      reserved = arena.reservedBytes
      next = Math.min(SLAB_BYTES_MAX, 2 * next)
    }
  }
  const before = arena.reservedBytes
  const big = Buffer.alloc(LARGE_RECORD_BYTES + 1, 9)
  const ref = arena.append(Buffer.from('big'), big)
  t.equal(arena.reservedBytes - before, RECORD_HEADER_BYTES + 3 + big.length, 'a large record gets an exact slab')
  t.ok(arena.value(ref).equals(big))
  const small = arena.append(Buffer.from('after'), Buffer.from('v'))
  t.equal(arena.reservedBytes - before, RECORD_HEADER_BYTES + 3 + big.length, 'small records go on filling the shared slab')
  t.equal(arena.value(small).toString(), 'v')
  t.end()
})

t.test('compareKey has the sign of Buffer.compare', (t) => {
  const random = seededRandom(t)
  const arena = new Arena()
  let mismatches = 0
  for (let i = 0; i < 3000; i++) {
    const prefix = Buffer.alloc(random.int(20), random.int(3))
    const a = Buffer.concat([prefix, Buffer.from([random.int(3), random.int(3)]).subarray(0, random.int(3))])
    const b = Buffer.concat([prefix, Buffer.from([random.int(3), random.int(3)]).subarray(0, random.int(3))])
    const ref = arena.append(a, Buffer.alloc(random.int(5)))
    if (Math.sign(arena.compareKey(ref, b)) !== Buffer.compare(a, b)) mismatches++
  }
  t.equal(mismatches, 0)
  t.end()
})
