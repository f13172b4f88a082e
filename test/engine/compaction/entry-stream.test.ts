// The flush hand-off stream: a memtable encoded at its exact size (no spare bytes, its own
// ArrayBuffer) decodes to the same entries in the same order, including 64 KiB keys, empty
// values, every kind and seqnos near 2^53; a truncated or padded stream is refused.
import t from 'tap'
import { KeyKind } from '../../../src/engine/base/internal-key.js'
import { decodeEntryStream, encodeEntryStream } from '../../../src/engine/compaction/entry-stream.js'
import { Memtable } from '../../../src/engine/memtable/memtable.js'
import { Prng, testSeed } from '../../helpers/prng.js'

interface Row { key: string; seqno: number; kind: KeyKind; value: string }

t.test('a random memtable round-trips through the stream at its exact size', async (t) => {
  const seed = testSeed()
  const rng = new Prng(seed)
  const mem = new Memtable()
  const kinds = [KeyKind.Put, KeyKind.Delete, KeyKind.Merge]
  for (let i = 0; i < 20_000; i++) {
    const key = Buffer.from(`k${rng.int(5000)}`)
    const kind = rng.pick(kinds)
    mem.add(key, i + 1, kind, kind === KeyKind.Delete ? Buffer.alloc(0) : Buffer.from('v'.repeat(rng.int(300))))
  }
  const bigKey = Buffer.alloc(65_535, 0x7a)
  mem.add(bigKey, Number.MAX_SAFE_INTEGER - 1, KeyKind.Put, Buffer.alloc(0))
  const expected: Row[] = []
  const it = mem.newIterator()
  for (it.first(); it.valid; it.next()) expected.push({ key: it.key.toString('hex'), seqno: it.seqno, kind: it.kind, value: it.value.toString('hex') })

  const stream = await encodeEntryStream(mem.newIterator())
  t.equal(stream.byteOffset, 0)
  t.equal(stream.buffer.byteLength, stream.byteLength, 'owns exactly its ArrayBuffer (nothing spare to transfer)')
  const got: Row[] = []
  const cursor = decodeEntryStream(stream)
  for (cursor.first(); cursor.valid; cursor.next()) got.push({ key: cursor.key.toString('hex'), seqno: cursor.seqno, kind: cursor.kind, value: cursor.value.toString('hex') })
  t.equal(got.length, expected.length, `seed=${seed}`)
  t.same(got, expected)
  cursor.first()
  t.equal(cursor.key.toString('hex'), expected[0]!.key, 'first() restarts')
})

t.test('an empty memtable, and malformed streams', async (t) => {
  const empty = await encodeEntryStream(new Memtable().newIterator())
  t.equal(empty.byteLength, 4)
  const c = decodeEntryStream(empty)
  c.first()
  t.notOk(c.valid)

  const mem = new Memtable()
  mem.add(Buffer.from('a'), 1, KeyKind.Put, Buffer.from('x'))
  const ok = await encodeEntryStream(mem.newIterator())
  const padded = new Uint8Array(ok.byteLength + 1)
  padded.set(ok)
  const p = decodeEntryStream(padded)
  p.first()
  t.ok(p.valid)
  t.throws(() => p.next(), /trailing bytes/, 'trailing bytes are refused')
  const cut = decodeEntryStream(ok.subarray(0, ok.byteLength - 1))
  t.throws(() => cut.first(), 'a truncated stream is refused')
})
