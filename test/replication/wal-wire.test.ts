// The WAL stream's frames: RECORD frames written back to back in one buffer (how the leader
// sends a burst of commits) are byte for byte the frames encodeFrame writes one by one, and
// decode to the same frames wherever the network cuts the bytes; a damaged frame in the
// middle of a coalesced chunk is refused.
import t from 'tap'
import { FrameDecoder, FrameError, FrameType, encodeFrame, encodeRecordFrames, jsonFrame, type Frame } from '../../src/replication/wal-wire.js'

function record(seqno: number, bytes: number): { seqno: number; record: Buffer } {
  const r = Buffer.alloc(8 + bytes, seqno & 0xff)
  r.writeBigUInt64LE(BigInt(seqno), 0)
  return { seqno, record: r }
}

function decodeAll(chunks: Buffer[]): Frame[] {
  const decoder = new FrameDecoder()
  const frames = chunks.flatMap((c) => decoder.push(c))
  if (decoder.pendingBytes !== 0) throw new Error('left over bytes')
  return frames
}

const summary = (frames: Frame[]) => frames.map((f) => [f.type, f.seqno, f.payload.toString('hex')])

t.test('coalesced RECORD frames equal the frames one by one, and decode the same at any cut', async (t) => {
  const records = [record(41, 0), record(42, 1), record(43, 300), record(44, 70_000), record(45, 5)]
  const coalesced = encodeRecordFrames(records)
  const oneByOne = records.map((r) => encodeFrame(FrameType.Record, r.seqno, r.record))
  t.ok(coalesced.equals(Buffer.concat(oneByOne)), 'same bytes')
  t.same(encodeRecordFrames([]).length, 0, 'no records, no bytes')

  const hello = jsonFrame(FrameType.Hello, 40, { format: 1 })
  const stream = Buffer.concat([hello, coalesced, jsonFrame(FrameType.Heartbeat, 45, {}), encodeRecordFrames([record(46, 10)])])
  const expected = summary(decodeAll([hello, ...oneByOne, jsonFrame(FrameType.Heartbeat, 45, {}), encodeFrame(FrameType.Record, 46, record(46, 10).record)]))
  t.same(summary(decodeAll([stream])), expected, 'one chunk')
  let seed = 7
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed % n
  }
  for (let round = 0; round < 200; round++) {
    const chunks: Buffer[] = []
    for (let at = 0; at < stream.length;) {
      const n = 1 + random(round % 2 === 0 ? 40 : 90_000)
      chunks.push(stream.subarray(at, at + n))
      at += n
    }
    const got = summary(decodeAll(chunks))
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      t.fail(`round ${round}: cut into ${chunks.length} chunks decodes differently`)
      return
    }
  }
  t.pass('200 random cuts decode to the same frames')
})

t.test('a damaged frame inside a coalesced chunk is refused, the frames before it are not lost', async (t) => {
  const records = [record(1, 20), record(2, 20), record(3, 20)]
  const bytes = encodeRecordFrames(records)
  const second = 17 + 28 // the second frame starts after the first (header + 28-byte payload)
  const damaged = Buffer.from(bytes)
  damaged[second + 20]! ^= 0x40
  const decoder = new FrameDecoder()
  t.same(decoder.push(damaged.subarray(0, second)).map((f) => f.seqno), [1], 'the first frame')
  t.throws(() => decoder.push(damaged.subarray(second)), FrameError, 'checksum mismatch in the second')
  const cut = new FrameDecoder()
  t.same(cut.push(bytes.subarray(0, bytes.length - 1)).map((f) => f.seqno), [1, 2], 'a cut stream keeps whole frames')
  t.equal(cut.pendingBytes, 17 + 28 - 1, 'and reports the partial one')
})
