/**
 * Properties block: golden bytes, round trip, unknown tags skipped, missing or inconsistent
 * properties => CORRUPTION naming the file and block offset.
 */
import t from 'tap'
import { ByteWriter } from '../../../src/engine/base/coding.js'
import { isCorruption } from '../../../src/engine/errors.js'
import { decodeProperties, encodeProperties, type TableProperties } from '../../../src/engine/sstable/properties.js'

const props: TableProperties = {
  formatVersion: 1, fileNumber: 7, entries: 2, rangeTombstones: 0, dataBlocks: 1,
  rawKeyBytes: 2, rawValueBytes: 2, smallestSeqno: 1, largestSeqno: 2,
  smallestKey: Buffer.from('a'), largestKey: Buffer.from('b'), compression: 'none', creationTimeMs: 0,
}

function errorOf(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

t.test('golden: tag | length | value records in tag order', async (t) => {
  const golden =
    '010101' + '020107' + '030102' + '040100' + '050101' + '060102' + '070102' + '080101' + '090102' +
    '0a0161' + '0b0162' + '0c046e6f6e65' + '0d0100'
  t.equal(encodeProperties(props).toString('hex'), golden)
})

t.test('round trip, including large numbers and empty keys', async (t) => {
  const big = { ...props, smallestKey: Buffer.alloc(0), largestSeqno: 2 ** 53 - 1, creationTimeMs: 1_700_000_000_123, rawValueBytes: 2 ** 40 }
  t.same(decodeProperties(encodeProperties(big), 'p.sst', 9), big)
})

t.test('unknown tags are skipped', async (t) => {
  const w = new ByteWriter()
  w.bytes(encodeProperties(props))
  w.varint(40).lengthPrefixed(Buffer.from('from the future'))
  t.same(decodeProperties(w.finish(), 'p.sst', 9), props)
})

t.test('bad blocks => CORRUPTION naming the file and block offset', async (t) => {
  const good = encodeProperties(props)
  const cases: Array<[string, Buffer]> = [
    ['truncated', good.subarray(0, good.length - 1)],
    ['missing tags', good.subarray(0, 9)],
    ['tags out of order', Buffer.concat([good, Buffer.from('010101', 'hex')])],
    ['number with trailing bytes', Buffer.concat([Buffer.from('01020100', 'hex'), good.subarray(3)])],
    ['smallest seqno > largest', encodeRaw({ ...props, smallestSeqno: 5 })],
    ['smallest key > largest', encodeRaw({ ...props, smallestKey: Buffer.from('z') })],
    ['empty table', encodeRaw({ ...props, entries: 0 })],
  ]
  for (const [what, raw] of cases) {
    const err = errorOf(() => decodeProperties(raw, 'p.sst', 9))
    t.ok(isCorruption(err), `${what}: CORRUPTION`)
    t.equal((err as { offset?: number }).offset, 9, `${what}: names the block offset`)
  }
  t.throws(() => encodeProperties({ ...props, entries: 0 }), /empty table/, 'encoding asserts the same invariants')
})

/** Encodes without the encoder's assertions (tag order as encodeProperties). */
function encodeRaw(p: TableProperties): Buffer {
  const w = new ByteWriter()
  const num = (tag: number, v: number) => {
    const inner = new ByteWriter().varint(v).finish()
    w.varint(tag).lengthPrefixed(inner)
  }
  num(1, p.formatVersion); num(2, p.fileNumber); num(3, p.entries); num(4, p.rangeTombstones)
  num(5, p.dataBlocks); num(6, p.rawKeyBytes); num(7, p.rawValueBytes); num(8, p.smallestSeqno)
  num(9, p.largestSeqno)
  w.varint(10).lengthPrefixed(p.smallestKey).varint(11).lengthPrefixed(p.largestKey)
  w.varint(12).string(p.compression)
  num(13, p.creationTimeMs)
  return w.finish()
}
