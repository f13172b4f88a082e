/**
 * Corruption: a flipped byte anywhere in a table (header, data blocks, filter, range-del,
 * properties, index, footer) is reported as CORRUPTION naming the file (UNSUPPORTED for the
 * header's flag bytes), never as a wrong value or another kind of error. Plus: unknown format
 * version => UNSUPPORTED, truncated files, and the offsets named for data and index blocks.
 * Reads go through iterators and through findPoint (the point-get fast path).
 */
import t from 'tap'
import { crc32c, maskCrc } from '../../../src/engine/base/crc32c.js'
import { KeyKind } from '../../../src/engine/base/internal-key.js'
import { BlockCache } from '../../../src/engine/cache/block-cache.js'
import { corruption, ErrorCode, isCorruption, isStrataError, type StrataError } from '../../../src/engine/errors.js'
import { decodeTableEnds, FOOTER_BYTES, HEADER_BYTES } from '../../../src/engine/sstable/format.js'
import { PointEntry } from '../../../src/engine/sstable/point-lookup.js'
import { PointStatus, TableReader } from '../../../src/engine/sstable/table-reader.js'
import type { ReadableFile } from '../../../src/engine/vfs/vfs.js'
import { seededRandom } from '../../helpers/sstable-random.js'
import {
  describe, type ModelEntry, scanBackward, scanForward, tableName, writeTable,
} from '../../helpers/sstable-tables.js'

const NAME = tableName(7)

function smallModel(): ModelEntry[] {
  const out: ModelEntry[] = []
  for (let i = 0; i < 40; i++) {
    const key = Buffer.from(`key-${String(i).padStart(3, '0')}`)
    out.push({ userKey: key, seqno: 100 + i, kind: KeyKind.Put, value: Buffer.from(`value ${i} `.repeat(3)) })
    if (i % 5 === 0) out.push({ userKey: key, seqno: 10 + i, kind: KeyKind.Delete, value: Buffer.alloc(0) })
  }
  return out
}

const TOMBSTONES = [
  { start: Buffer.from('key-010'), end: Buffer.from('key-020'), seqno: 50 },
  { start: Buffer.from('key-015'), end: Buffer.from('key-030'), seqno: 60 },
]

/** Opens `bytes` as table 7 and reads everything; returns a digest of what was read. */
async function readAll(bytes: Buffer): Promise<string> {
  const reader = TableReader.open(bufferFile(bytes), NAME, 7, new BlockCache(1 << 20))
  try {
    // Point lookups first, so that they are the first to read (and verify) every block.
    const out = new PointEntry()
    const points = smallModel().map((e) => {
      const status = reader.findPoint(e.userKey, e.seqno, out)
      if (status !== PointStatus.Found) return status
      return `${out.seqno}/${out.kind}=${out.data.subarray(out.valueStart, out.valueEnd).toString('hex')}`
    })
    const it = reader.newIterator()
    const forward = scanForward(it).map(describe)
    const backward = scanBackward(it).map(describe)
    it.seekGE(Buffer.from('key-030'), 200)
    const seek = it.valid ? it.key.toString() : 'end'
    const filter = smallModel().map((e) => reader.mayContain(e.userKey)).join()
    const tombstones = reader.rangeTombstones.map((x) => `${x.start}-${x.end}#${x.seqno}`)
    return JSON.stringify({ forward, backward, seek, filter, tombstones, points, props: reader.properties.entries })
  } finally {
    await reader.close()
  }
}

/** A ReadableFile over a buffer, with the Vfs contract: exact reads or CORRUPTION past the end. */
function bufferFile(bytes: Buffer): ReadableFile {
  return {
    sizeBytes: bytes.length,
    readAt(offset: number, length: number): Buffer {
      if (offset + length > bytes.length) throw corruption('read past the end', NAME, offset)
      return Buffer.from(bytes.subarray(offset, offset + length))
    },
    close: async () => undefined,
  }
}

async function errorOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn()
  } catch (err) {
    return err
  }
  return undefined
}

for (const compression of ['none', 'zstd'] as const) {
  t.test(`every single-byte flip is detected (${compression})`, async (t) => {
    const rng = seededRandom(t.comment.bind(t))
    const { vfs, path } = await writeTable(smallModel(), TOMBSTONES, { compression, blockBytes: 256 })
    const good = vfs.fileData(path)
    const expected = await readAll(good)
    t.comment(`${good.length} bytes`)
    const problems: string[] = []
    for (let i = 0; i < good.length; i++) {
      const bad = Buffer.from(good)
      bad[i] = bad[i]! ^ (1 << rng.int(8))
      const err = await errorOf(() => readAll(bad))
      const flagByte = i >= 12 && i < 16
      const wanted = flagByte ? ErrorCode.UNSUPPORTED : ErrorCode.CORRUPTION
      if (err === undefined) {
        problems.push(`byte ${i}: no error (${(await readAll(bad)) === expected ? 'same data' : 'WRONG DATA'})`)
      } else if (!isStrataError(err, wanted)) {
        problems.push(`byte ${i}: ${(err as Error).name} ${(err as Error).message}`)
      } else if ((err as StrataError).file !== NAME || (err as Error).message.includes('/')) {
        problems.push(`byte ${i}: error does not name the file by base name`)
      }
    }
    t.same(problems, [], 'every flip is CORRUPTION (UNSUPPORTED for flag bytes) naming the file')
  })
}

t.test('data and index block corruption names the block offset', async (t) => {
  const { vfs, path } = await writeTable(smallModel(), [], { blockBytes: 256, filterBitsPerKey: 0 })
  const good = vfs.fileData(path)
  const { footer } = decodeTableEnds(good.subarray(0, HEADER_BYTES), good.subarray(good.length - FOOTER_BYTES), NAME, good.length)
  const dataBad = Buffer.from(good)
  dataBad[HEADER_BYTES + 3] = dataBad[HEADER_BYTES + 3]! ^ 1
  const dataErr = await errorOf(() => readAll(dataBad))
  t.ok(isCorruption(dataErr) && dataErr.offset === HEADER_BYTES, 'first data block: CORRUPTION at offset 32')
  t.match(String((dataErr as Error).message), `${NAME} at offset 32`)
  const indexBad = Buffer.from(good)
  indexBad[footer.index.offset + 1] = indexBad[footer.index.offset + 1]! ^ 0x40
  const indexErr = await errorOf(() => readAll(indexBad))
  t.ok(isCorruption(indexErr) && indexErr.offset === footer.index.offset, 'index: CORRUPTION at the index offset')
  const footerBad = Buffer.from(good)
  footerBad[good.length - 20] = footerBad[good.length - 20]! ^ 0x01
  t.ok(isCorruption(await errorOf(() => readAll(footerBad))), 'footer: CORRUPTION')
  const headerBad = Buffer.from(good)
  headerBad[2] = 0x00
  const headerErr = await errorOf(() => readAll(headerBad))
  t.ok(isCorruption(headerErr) && headerErr.offset === 0, 'header magic: CORRUPTION at offset 0')
})

t.test('unknown format version => UNSUPPORTED with a clear message', async (t) => {
  const { vfs, path } = await writeTable(smallModel())
  const bytes = vfs.fileData(path)
  bytes.writeUInt32LE(2, 8)
  const footerAt = bytes.length - FOOTER_BYTES
  bytes.writeUInt32LE(2, footerAt + 48)
  bytes.writeUInt32LE(maskCrc(crc32c(bytes, footerAt, footerAt + 52)), footerAt + 52)
  const err = await errorOf(() => readAll(bytes))
  t.ok(isStrataError(err, ErrorCode.UNSUPPORTED), 'UNSUPPORTED')
  t.match(String((err as Error).message), /format version 2; this build reads version 1/)
  t.equal((err as StrataError).file, NAME)
})

t.test('truncated and tiny files => CORRUPTION', async (t) => {
  const { vfs, path } = await writeTable(smallModel())
  const good = vfs.fileData(path)
  for (const length of [0, 10, HEADER_BYTES + FOOTER_BYTES - 1, HEADER_BYTES + FOOTER_BYTES, good.length - 1, good.length - 64]) {
    const err = await errorOf(() => readAll(good.subarray(0, length)))
    t.ok(isCorruption(err), `${length} bytes: CORRUPTION`)
  }
  const extended = Buffer.concat([good, Buffer.alloc(10)])
  t.ok(isCorruption(await errorOf(() => readAll(extended))), 'trailing garbage: CORRUPTION')
})
