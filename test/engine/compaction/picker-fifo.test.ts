/**
 * FIFO picking on synthetic Versions: the size cap and the age cap drop a prefix of the tables
 * in age order (largestSeqno ascending, across levels), busy tables end the prefix, unknown
 * creation times are never dropped for age. Also the persistence of TableMeta.createdAtMs in
 * the VersionEdit (optional tag 1001): golden bytes derived by hand from the layout in
 * version-edit.ts, round trips, and malformed annotations => CORRUPTION naming the manifest.
 */
import t from 'tap'

import { ByteWriter } from '../../../src/engine/base/coding.js'
import { tablesOldestFirst } from '../../../src/engine/compaction/fifo.js'
import { pendingCompactionBytes, pickCompaction, type CompactionTask } from '../../../src/engine/compaction/picker.js'
import { isCorruption } from '../../../src/engine/errors.js'
import {
  decodeVersionEdit, EDIT_FORMAT_VERSION, emptyEdit, encodeVersionEdit, SafeEditTag, type VersionEdit,
} from '../../../src/engine/version/version-edit.js'
import { Prng, testSeed } from '../../helpers/prng.js'
import {
  compactionOptions, ids, inputIds, meta, MiB, pickerState, versionFrom, type TableSpec,
} from '../../helpers/synthetic-version.js'

const FIFO = compactionOptions({ strategy: 'fifo', fifo: { maxTotalBytes: 5.5 * MiB, ttlSeconds: 0 } })
const MANIFEST = 'MANIFEST-000004'

function tenTables(extra: (i: number) => Partial<TableSpec> = () => ({})): TableSpec[] {
  return Array.from({ length: 10 }, (_, i) => ({ id: i + 1, level: 0, from: i * 10, to: i * 10 + 5, ...extra(i + 1) }))
}

function pick(specs: TableSpec[], options = FIFO, busy: number[] = [], nowMs = 0): CompactionTask | undefined {
  return pickCompaction(versionFrom(specs), options, pickerState(busy, nowMs))
}

t.test('size cap: drop the oldest tables until the tree fits', async (tt) => {
  const task = pick(tenTables())!
  tt.equal(task.kind, 'drop')
  tt.equal(task.reason, 'fifo-size')
  tt.same(inputIds(task), { 0: [5, 4, 3, 2, 1] }, 'L0 order within the level')
  tt.equal(task.outputLevel, 0)
  tt.equal(task.bottommost, false)
  tt.equal(task.score, 10 / 5.5)
  tt.equal(pick(tenTables(), compactionOptions({ ...FIFO, fifo: { maxTotalBytes: 10 * MiB, ttlSeconds: 0 } })), undefined, 'exactly at the cap')
  tt.equal(pick(tenTables(), compactionOptions({ ...FIFO, fifo: { maxTotalBytes: 0, ttlSeconds: 0 } })), undefined, '0 = no cap')
  tt.equal(pendingCompactionBytes(versionFrom(tenTables()), FIFO), 0, 'drops rewrite nothing')
})

t.test('busy tables end the prefix: never drop a newer table while an older one stays', async (tt) => {
  tt.equal(pick(tenTables(), FIFO, [1]), undefined)
  tt.same(inputIds(pick(tenTables(), FIFO, [3])!), { 0: [2, 1] })
})

t.test('age order is largestSeqno across every level, not ids or levels', async (tt) => {
  const specs: TableSpec[] = [
    { id: 1, level: 0, from: 0, to: 9, seqnos: [900, 999] },
    { id: 2, level: 0, from: 0, to: 9, seqnos: [800, 899] },
    { id: 3, level: 1, from: 0, to: 9, seqnos: [100, 199] },
    { id: 4, level: 1, from: 10, to: 19, seqnos: [300, 399] },
    { id: 5, level: 2, from: 0, to: 19, seqnos: [1, 99] },
  ]
  tt.same(ids(tablesOldestFirst(versionFrom(specs))), [5, 3, 4, 2, 1])
  const options = compactionOptions({ ...FIFO, fifo: { maxTotalBytes: 2 * MiB, ttlSeconds: 0 } })
  const task = pick(specs, options)!
  tt.same(task.inputs.map((input) => input.level), [1, 2], 'grouped by level, shallower first')
  tt.same(inputIds(task), { 1: [3, 4], 2: [5] })
})

t.test('age cap: drop the expired prefix; unknown ages are kept', async (tt) => {
  const ttl = compactionOptions({ ...FIFO, fifo: { maxTotalBytes: 0, ttlSeconds: 60 } })
  const created = [100_000, 200_000, 940_000, 950_000, 990_000]
  const specs = created.map((createdAtMs, i) => ({ id: i + 1, level: 0, from: 0, to: 9, createdAtMs }))
  const task = pick(specs, ttl, [], 1_000_000)!
  tt.equal(task.reason, 'fifo-ttl')
  tt.same(inputIds(task), { 0: [3, 2, 1] }, '60 s old exactly counts as expired')
  tt.equal(task.score, 900_000 / 60_000)
  tt.equal(pick(specs, ttl, [], 1_000_000 - 1)!.inputs[0]!.tables.length, 2, 'a millisecond earlier table 3 is fresh')
  tt.equal(pick(specs, ttl, [1], 1_000_000), undefined, 'busy oldest')
  const unknownFirst = [{ id: 1, level: 0, from: 0, to: 9 }, ...specs.slice(1)]
  tt.equal(pick(unknownFirst, ttl, [], 1_000_000), undefined, 'no createdAtMs: never dropped for age, and the prefix ends')
  const zeroFirst = [{ id: 1, level: 0, from: 0, to: 9, createdAtMs: 0 }, ...specs.slice(1)]
  tt.equal(pick(zeroFirst, ttl, [], 1_000_000), undefined, 'createdAtMs 0 means unknown')
  const outOfOrder = [{ ...specs[0]! }, { ...specs[1]!, createdAtMs: 999_000 }, { ...specs[2]! }]
  tt.same(inputIds(pick(outOfOrder, ttl, [], 1_000_000)!), { 0: [1] }, 'a fresh table stops the prefix')
  const both = compactionOptions({ ...FIFO, fifo: { maxTotalBytes: 1, ttlSeconds: 60 } })
  tt.equal(pick(specs, both, [], 1_000_000)!.reason, 'fifo-ttl', 'age is checked before size')
  tt.equal(pick(unknownFirst, both, [], 1_000_000)!.reason, 'fifo-size', 'the size cap drops unknown ages')
})

// ------------------------------------------------ createdAtMs in the VersionEdit (tag 1001)

function decode(record: Buffer): VersionEdit {
  return decodeVersionEdit(record, MANIFEST, 64)
}

function stamped(createdAtMs: number | undefined): VersionEdit {
  const table = meta({ id: 7, level: 0, from: 0, to: 0, sizeBytes: 1000, seqnos: [1, 300], createdAtMs })
  table.checksum = 0xdeadbeef
  table.smallestKey = Buffer.from('a')
  table.largestKey = Buffer.from('b')
  table.entries = 2
  return { ...emptyEdit(), addTables: [table] }
}

t.test('golden: an added table with its creation time', async (tt) => {
  // Derived by hand from the layout in version-edit.ts:
  //   01                                  format 1
  //   09 11                               addTable (tag 9), 17 payload bytes:
  //     00 07 e8 07 ef be ad de             level 0, id 7, sizeBytes 1000, checksum LE
  //     01 ac 02 02 00 01 61 01 62          seqnos 1..300, entries 2, tombstones 0, keys a, b
  //   e9 07 07                            tableCreatedAt (tag 1001 = varint e9 07), 7 bytes:
  //     07                                  id 7
  //     80 d0 95 ff bc 31                   1_700_000_000_000 = 0x18bcfe56800 in 7-bit groups
  const golden = '01' + '0911' + '0007e807efbeadde' + '01ac0202000161' + '0162' + 'e90707' + '07' + '80d095ffbc31'
  const edit = stamped(1_700_000_000_000)
  tt.equal(encodeVersionEdit(edit).toString('hex'), golden)
  tt.same(decode(Buffer.from(golden, 'hex')), edit)
  const legacy = encodeVersionEdit(stamped(undefined))
  tt.equal(legacy.toString('hex'), '01' + '0911' + '0007e807efbeadde' + '01ac0202000161' + '0162', 'no time: no tag, old bytes')
  tt.equal(decode(legacy).addTables[0]!.createdAtMs, undefined, 'absent stays absent (= 0, unknown)')
  tt.equal(decode(encodeVersionEdit(stamped(0))).addTables[0]!.createdAtMs, 0)
  tt.equal(SafeEditTag.TableCreatedAt, 1001)
})

t.test('random round trips of stamped and unstamped tables (seeded)', async (tt) => {
  const seed = testSeed()
  tt.comment(`seed ${seed}`)
  const rng = new Prng(seed)
  for (let i = 0; i < 200; i++) {
    const edit = emptyEdit()
    for (let n = rng.int(5); n > 0; n--) {
      const createdAtMs = rng.bool() ? undefined : rng.pick([0, 1, 127, 128, rng.int(2 ** 45), Number.MAX_SAFE_INTEGER])
      edit.addTables.push(meta({ id: 1 + rng.int(2 ** 40), level: rng.int(7), from: 0, to: rng.int(100), createdAtMs }))
    }
    tt.same(decode(encodeVersionEdit(edit)), edit, `edit ${i} (seed ${seed})`)
  }
})

function record(fields: [number, ByteWriter][]): Buffer {
  const out = new ByteWriter().u8(EDIT_FORMAT_VERSION)
  for (const [tag, payload] of fields) {
    const bytes = payload.finish()
    out.varint(tag).varint(bytes.length).bytes(bytes)
  }
  return out.finish()
}

t.test('malformed creation times are CORRUPTION naming the manifest', async (tt) => {
  const good = encodeVersionEdit(stamped(5))
  const annotation = (id: number, ms: number): [number, ByteWriter] => [SafeEditTag.TableCreatedAt, new ByteWriter().varint(id).varint(ms)]
  const cases: [string, Buffer][] = [
    ['names a table the edit does not add', Buffer.concat([good.subarray(0), record([annotation(8, 5)]).subarray(1)])],
    ['appears twice for one table', Buffer.concat([good, record([annotation(7, 6)]).subarray(1)])],
    ['trailing payload bytes', Buffer.concat([encodeVersionEdit(stamped(undefined)), record([[SafeEditTag.TableCreatedAt, new ByteWriter().varint(7).varint(5).u8(0)]]).subarray(1)])],
    ['truncated', good.subarray(0, good.length - 1)],
    ['file number 0', Buffer.concat([encodeVersionEdit(stamped(undefined)), record([annotation(0, 5)]).subarray(1)])],
  ]
  for (const [name, bytes] of cases) {
    try {
      decode(bytes)
      tt.fail(`${name}: expected CORRUPTION`)
    } catch (err) {
      tt.ok(isCorruption(err), `${name}: ${String(err)}`)
      if (isCorruption(err)) {
        tt.equal(err.file, MANIFEST, `${name}: names the manifest`)
        tt.equal(err.offset, 64)
      }
    }
  }
  const annotationFirst = record([annotation(7, 9)])
  const reordered = Buffer.concat([annotationFirst, encodeVersionEdit(stamped(undefined)).subarray(1)])
  tt.equal(decode(reordered).addTables[0]!.createdAtMs, 9, 'the decoder accepts any field order')
})
