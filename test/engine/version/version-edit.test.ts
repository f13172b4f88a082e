/**
 * VersionEdit encoding: golden bytes derived by hand from the layout in version-edit.ts (and
 * docs/format/manifest.md), seeded random round trips, forward compatibility (safe tags
 * skipped, unknown required tags and formats refused) and malformed records => CORRUPTION.
 */
import t, { type Test } from 'tap'

import { AssertionError } from '../../../src/engine/base/assert.js'
import { ByteWriter } from '../../../src/engine/base/coding.js'
import { isCorruption, isStrataError } from '../../../src/engine/errors.js'
import {
  decodeVersionEdit,
  EDIT_FORMAT_VERSION,
  EditTag,
  emptyEdit,
  encodeVersionEdit,
  SAFE_TAG_MIN,
  type VersionEdit,
} from '../../../src/engine/version/version-edit.js'
import { Prng, testSeed } from '../../helpers/prng.js'
import { randomEdit, table } from '../../helpers/version-edits.js'

const FILE = 'MANIFEST-000007'

function decode(record: Buffer, offset = 0): VersionEdit {
  return decodeVersionEdit(record, FILE, offset)
}

/** A record made of the format byte and raw fields (tag, payload). */
function rawRecord(fields: [number, Buffer][], format = EDIT_FORMAT_VERSION): Buffer {
  const out = new ByteWriter().u8(format)
  for (const [tag, payload] of fields) out.varint(tag).varint(payload.length).bytes(payload)
  return out.finish()
}

function expectCorruption(tt: Test, fn: () => unknown, offset = 0): void {
  try {
    fn()
    tt.fail('expected CORRUPTION')
  } catch (err) {
    tt.ok(isCorruption(err), `CORRUPTION, got ${String(err)}`)
    if (isCorruption(err)) {
      tt.equal(err.file, FILE, 'names the manifest')
      tt.equal(err.offset, offset, 'at the record offset')
      tt.match(err.message, FILE)
    }
  }
}

t.test('golden: a small delta edit', async (tt) => {
  const edit: VersionEdit = {
    ...emptyEdit(),
    versionId: 3,
    logNumber: 5,
    lastSeqno: 300,
    removeTables: [{ level: 0, id: 4 }],
    addTables: [
      table(7, 1, 0, 0, {
        sizeBytes: 1000, checksum: 0xdeadbeef, smallestKey: Buffer.from('a'), largestKey: Buffer.from('b'),
        smallestSeqno: 1, largestSeqno: 300, entries: 2, rangeTombstones: 0,
      }),
    ],
    removeBlobFiles: [9],
  }
  // Derived by hand from the layout:
  //   01                                  format 1
  //   05 01 03                            versionId (tag 5) = 3
  //   02 01 05                            logNumber (tag 2) = 5
  //   04 02 ac 02                         lastSeqno (tag 4) = 300 = varint ac 02
  //   08 02 00 04                         removeTable (tag 8): level 0, id 4
  //   09 11                               addTable (tag 9), 17 payload bytes:
  //     01 07 e8 07                         level 1, id 7, sizeBytes 1000 (e8 07)
  //     ef be ad de                         checksum 0xdeadbeef, u32 LE
  //     01 ac 02 02 00                      seqnos 1..300, entries 2, rangeTombstones 0
  //     01 61 01 62                         smallestKey "a", largestKey "b"
  //   0a 01 09                            removeBlobFile (tag 10): id 9
  const golden =
    '01' + '050103' + '020105' + '0402ac02' + '08020004' +
    '0911' + '0107e807' + 'efbeadde' + '01ac020200' + '01610162' +
    '0a0109'
  const encoded = encodeVersionEdit(edit)
  tt.equal(encoded.toString('hex'), golden)
  tt.same(decode(Buffer.from(golden, 'hex')), edit)
})

t.test('golden: a snapshot header', async (tt) => {
  const edit: VersionEdit = {
    ...emptyEdit(),
    versionId: 1,
    comparatorName: 'strata.bytewise',
    treeId: 't1',
    mergeOperatorName: null,
    logNumber: 0,
    nextFileNumber: 2,
    lastSeqno: 0,
  }
  const golden =
    '01' +
    '050101' + //                          versionId 1
    '010f' + Buffer.from('strata.bytewise').toString('hex') + // comparator, 15 bytes
    '0602' + '7431' + //                   treeId "t1"
    '070100' + //                          mergeOperatorName: none
    '020100' + '030102' + '040100' //      logNumber 0, nextFileNumber 2, lastSeqno 0
  tt.equal(encodeVersionEdit(edit).toString('hex'), golden)
  tt.same(decode(Buffer.from(golden, 'hex')), edit)
  const named = { ...edit, mergeOperatorName: 'max' }
  tt.match(encodeVersionEdit(named).toString('hex'), '070401' + Buffer.from('max').toString('hex'))
  tt.same(decode(encodeVersionEdit(named)), named)
})

t.test('random round trips', async (tt) => {
  const seed = testSeed()
  tt.comment(`seed ${seed} (replay with STRATA_SEED=${seed})`)
  const rng = new Prng(seed)
  for (let i = 0; i < 300; i++) {
    const edit = randomEdit(rng)
    const encoded = encodeVersionEdit(edit)
    const decoded = decode(encoded, i)
    if (JSON.stringify(decoded) !== JSON.stringify(edit)) {
      tt.same(decoded, edit, `edit ${i} (seed ${seed})`)
      return
    }
    tt.equal(encodeVersionEdit(decoded).toString('hex'), encoded.toString('hex'), 're-encodes identically')
  }
  tt.pass('300 edits round-tripped')
})

t.test('the empty edit is the format byte alone', async (tt) => {
  tt.equal(encodeVersionEdit(emptyEdit()).toString('hex'), '01')
  tt.same(decode(Buffer.from('01', 'hex')), emptyEdit())
})

t.test('decoded keys are copies, not views of the record', async (tt) => {
  const record = encodeVersionEdit({ ...emptyEdit(), addTables: [table(3, 2, 10, 20)] })
  const decoded = decode(Buffer.from(record))
  const before = Buffer.from(decoded.addTables[0]!.smallestKey)
  record.fill(0)
  tt.same(decoded.addTables[0]!.smallestKey, before)
})

t.test('unknown safe tags are skipped, unknown required tags refused', async (tt) => {
  const base = encodeVersionEdit({ ...emptyEdit(), versionId: 9, removeBlobFiles: [4] })
  const safe = Buffer.concat([base, new ByteWriter().varint(SAFE_TAG_MIN + 7).varint(3).bytes(Buffer.from('xyz')).finish()])
  tt.same(decode(safe), { ...emptyEdit(), versionId: 9, removeBlobFiles: [4] })
  const safeFirst = rawRecord([[SAFE_TAG_MIN, Buffer.alloc(0)], [EditTag.VersionId, Buffer.from([9])]])
  tt.same(decode(safeFirst), { ...emptyEdit(), versionId: 9 })

  const unsafe = Buffer.concat([base, new ByteWriter().varint(77).varint(1).u8(0).finish()])
  try {
    decode(unsafe, 40)
    tt.fail('expected UNSUPPORTED')
  } catch (err) {
    tt.ok(isStrataError(err, 'UNSUPPORTED'), String(err))
    tt.match((err as Error).message, /tag 77/)
    tt.equal((err as { file?: string }).file, FILE)
  }
  const justBelow = rawRecord([[SAFE_TAG_MIN - 1, Buffer.alloc(0)]])
  tt.throws(() => decode(justBelow), { code: 'UNSUPPORTED' })
})

t.test('an unknown format byte is UNSUPPORTED', async (tt) => {
  const record = encodeVersionEdit({ ...emptyEdit(), versionId: 1 })
  record[0] = 2
  tt.throws(() => decode(record), { code: 'UNSUPPORTED', file: FILE })
  tt.throws(() => decode(Buffer.from([0])), { code: 'UNSUPPORTED' })
})

t.test('malformed records are CORRUPTION naming the file and record offset', async (tt) => {
  const good = encodeVersionEdit({ ...emptyEdit(), versionId: 3, addTables: [table(7, 1, 1, 2)] })
  expectCorruption(tt, () => decode(Buffer.alloc(0), 12), 12)
  // Every cut inside the addTable field (the last field) leaves a truncated field.
  const addTableStart = 4 // format byte + versionId field (05 01 03)
  for (let cut = addTableStart + 1; cut < good.length; cut++) {
    expectCorruption(tt, () => decode(good.subarray(0, cut), 100), 100)
  }
  const tag = (n: number, payload: number[]): [number, Buffer] => [n, Buffer.from(payload)]
  const cases: [string, Buffer][] = [
    ['payload length past the record', Buffer.from('010505', 'hex')],
    ['varint too long', Buffer.from('01' + 'ff'.repeat(9), 'hex')],
    ['duplicate scalar', rawRecord([tag(EditTag.VersionId, [1]), tag(EditTag.VersionId, [2])])],
    ['trailing bytes in a known payload', rawRecord([tag(EditTag.LogNumber, [1, 2])])],
    ['level out of range', rawRecord([tag(EditTag.RemoveTable, [7, 1])])],
    ['file number 0', rawRecord([tag(EditTag.RemoveBlobFile, [0])])],
    ['empty tree id', rawRecord([tag(EditTag.TreeId, [])])],
    ['tree id too long', rawRecord([[EditTag.TreeId, Buffer.alloc(257, 0x61)]])],
    ['merge operator flag 2', rawRecord([tag(EditTag.MergeOperatorName, [2])])],
    ['merge operator empty name', rawRecord([tag(EditTag.MergeOperatorName, [1])])],
  ]
  for (const [name, record] of cases) {
    tt.test(name, async (t2) => expectCorruption(t2, () => decode(record, 5), 5))
  }
})

t.test('addTable bounds: key length, inverted ranges', async (tt) => {
  const payload = (smallestKey: Buffer, largestKey: Buffer, seqnos: [number, number]): Buffer =>
    new ByteWriter()
      .varint(1).varint(7).varint(100).u32(0)
      .varint(seqnos[0]).varint(seqnos[1]).varint(1).varint(0)
      .lengthPrefixed(smallestKey).lengthPrefixed(largestKey).finish()
  const ok = rawRecord([[EditTag.AddTable, payload(Buffer.from('a'), Buffer.from('b'), [1, 2])]])
  tt.equal(decode(ok).addTables.length, 1)
  const longest = Buffer.alloc(65_535, 0x7a)
  tt.equal(decode(rawRecord([[EditTag.AddTable, payload(Buffer.from('a'), longest, [1, 2])]])).addTables.length, 1)
  const tooLong = Buffer.alloc(65_536, 0x7a)
  expectCorruption(tt, () => decode(rawRecord([[EditTag.AddTable, payload(Buffer.from('a'), tooLong, [1, 2])]])))
  expectCorruption(tt, () => decode(rawRecord([[EditTag.AddTable, payload(Buffer.from('b'), Buffer.from('a'), [1, 2])]])))
  expectCorruption(tt, () => decode(rawRecord([[EditTag.AddTable, payload(Buffer.from('a'), Buffer.from('b'), [3, 2])]])))
})

t.test('encode asserts its input', async (tt) => {
  const bad: [string, VersionEdit][] = [
    ['level 7', { ...emptyEdit(), addTables: [table(1, 7, 1, 2)] }],
    ['id 0', { ...emptyEdit(), addTables: [table(0, 1, 1, 2)] }],
    ['inverted keys', { ...emptyEdit(), addTables: [table(1, 1, 5, 2)] }],
    ['key too long', { ...emptyEdit(), addTables: [table(1, 1, 1, 2, { largestKey: Buffer.alloc(65_536, 0xff) })] }],
    ['negative scalar', { ...emptyEdit(), lastSeqno: -1 }],
    ['fractional scalar', { ...emptyEdit(), versionId: 1.5 }],
    ['empty name', { ...emptyEdit(), treeId: '' }],
    ['remove level 9', { ...emptyEdit(), removeTables: [{ level: 9, id: 1 }] }],
    ['checksum beyond u32', { ...emptyEdit(), addBlobFiles: [{ id: 1, sizeBytes: 1, checksum: 2 ** 32 }] }],
  ]
  for (const [name, edit] of bad) tt.throws(() => encodeVersionEdit(edit), AssertionError, name)
})
