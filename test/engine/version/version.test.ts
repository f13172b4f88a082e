/**
 * Version queries and invariants: level ordering, overlappingTables on L0 and sorted levels
 * (inclusive bounds), findTableForKey including two neighbours sharing a boundary key, sizes,
 * and checkInvariants catching each broken invariant.
 */
import t from 'tap'

import { AssertionError } from '../../../src/engine/base/assert.js'
import { LEVEL_COUNT } from '../../../src/engine/options.js'
import type { TableMeta } from '../../../src/engine/version/file-metadata.js'
import { Version } from '../../../src/engine/version/version.js'
import { blob, key, table } from '../../helpers/version-edits.js'

function levels(...byLevel: [number, TableMeta[]][]): TableMeta[][] {
  const out: TableMeta[][] = Array.from({ length: LEVEL_COUNT }, () => [])
  for (const [level, tables] of byLevel) out[level] = tables
  return out
}

const ids = (tables: readonly TableMeta[]): number[] => tables.map((x) => x.id)

// L1: [10,20] [20,30] [40,50] (the first two share key 20); L0 overlaps freely.
const l0 = [table(9, 0, 15, 45, { largestSeqno: 900 }), table(8, 0, 5, 12, { largestSeqno: 800 })]
const l1 = [table(1, 1, 10, 20), table(2, 1, 20, 30), table(3, 1, 40, 50)]
const version = new Version(4, levels([0, l0], [1, l1], [3, [table(5, 3, 0, 100)]]))

t.test('empty', async (tt) => {
  const empty = Version.empty()
  tt.equal(empty.id, 0)
  tt.equal(empty.levels.length, LEVEL_COUNT)
  tt.equal(empty.tableCount(), 0)
  tt.equal(empty.totalBytes(), 0)
  tt.same(empty.allTables(), [])
  tt.same(empty.blobFiles, [])
  tt.same(empty.findTableForKey(1, key(5)), [])
  tt.same(empty.overlappingTables(0, key(0), key(9)), [])
  empty.checkInvariants()
})

t.test('sizes and listing', async (tt) => {
  version.checkInvariants()
  tt.equal(version.tableCount(), 6)
  tt.same(ids(version.allTables()), [9, 8, 1, 2, 3, 5])
  tt.equal(version.levelBytes(0), 1009 + 1008)
  tt.equal(version.levelBytes(1), 1001 + 1002 + 1003)
  tt.equal(version.levelBytes(2), 0)
  tt.equal(version.totalBytes(), 1009 + 1008 + 1001 + 1002 + 1003 + 1005)
  tt.throws(() => version.levelBytes(LEVEL_COUNT), AssertionError)
  tt.ok(Object.isFrozen(version.levels) && Object.isFrozen(version.levels[1]), 'frozen')
})

t.test('overlappingTables: inclusive bounds', async (tt) => {
  tt.same(ids(version.overlappingTables(1, key(0), key(9))), [])
  tt.same(ids(version.overlappingTables(1, key(0), key(10))), [1], 'touches the smallest key')
  tt.same(ids(version.overlappingTables(1, key(20), key(20))), [1, 2], 'shared boundary')
  tt.same(ids(version.overlappingTables(1, key(31), key(39))), [], 'gap between tables')
  tt.same(ids(version.overlappingTables(1, key(30), key(40))), [2, 3])
  tt.same(ids(version.overlappingTables(1, key(50), key(99))), [3])
  tt.same(ids(version.overlappingTables(1, key(51), key(99))), [])
  tt.same(ids(version.overlappingTables(1, key(0), key(1000))), [1, 2, 3])
  tt.same(ids(version.overlappingTables(0, key(13), key(14))), [], 'between the L0 tables')
  tt.same(ids(version.overlappingTables(0, key(13), key(15))), [9])
  tt.same(ids(version.overlappingTables(0, key(12), key(15))), [9, 8], 'L0 in newest-first order')
  tt.same(ids(version.overlappingTables(0, key(46), key(99))), [])
  tt.throws(() => version.overlappingTables(1, key(5), key(4)), AssertionError, 'inverted query')
})

t.test('findTableForKey: binary search, at most two tables', async (tt) => {
  tt.same(ids(version.findTableForKey(1, key(9))), [])
  tt.same(ids(version.findTableForKey(1, key(10))), [1])
  tt.same(ids(version.findTableForKey(1, key(15))), [1])
  tt.same(ids(version.findTableForKey(1, key(20))), [1, 2])
  tt.same(ids(version.findTableForKey(1, key(21))), [2])
  tt.same(ids(version.findTableForKey(1, key(35))), [])
  tt.same(ids(version.findTableForKey(1, key(50))), [3])
  tt.same(ids(version.findTableForKey(1, key(51))), [])
  tt.same(ids(version.findTableForKey(3, key(77))), [5])
  tt.same(ids(version.findTableForKey(2, key(77))), [])
  tt.throws(() => version.findTableForKey(0, key(10)), AssertionError, 'not for L0')
  const point = new Version(1, levels([1, [table(1, 1, 10, 20), table(2, 1, 20, 20)]]))
  point.checkInvariants()
  tt.same(ids(point.findTableForKey(1, key(20))), [1, 2])
})

t.test('findTableForKey agrees with a linear scan', async (tt) => {
  const many: TableMeta[] = []
  for (let i = 0; i < 200; i++) many.push(table(i + 1, 2, i * 10, i * 10 + (i % 3 === 0 ? 10 : 7)))
  const wide = new Version(1, levels([2, many]))
  wide.checkInvariants()
  for (let k = 0; k < 2020; k++) {
    const expected = many.filter((x) => x.smallestKey.readUInt32BE(0) <= k && k <= x.largestKey.readUInt32BE(0))
    const found = wide.findTableForKey(2, key(k))
    if (JSON.stringify(ids(found)) !== JSON.stringify(ids(expected))) {
      tt.same(ids(found), ids(expected), `key ${k}`)
      return
    }
  }
  tt.pass('all keys agree')
})

t.test('checkInvariants catches each broken invariant', async (tt) => {
  const cases: [string, TableMeta[][], number[]?][] = [
    ['wrong level field', levels([1, [table(1, 2, 1, 2)]])],
    ['duplicate id across levels', levels([1, [table(1, 1, 1, 2)]], [2, [table(1, 2, 5, 6)]])],
    ['inverted key range', levels([2, [table(1, 2, 9, 2)]])],
    ['inverted seqno range', levels([2, [table(1, 2, 1, 2, { smallestSeqno: 9, largestSeqno: 3 })]])],
    ['L0 oldest first', levels([0, [table(1, 0, 1, 2), table(2, 0, 1, 2)]])],
    ['L1 unsorted', levels([1, [table(1, 1, 30, 40), table(2, 1, 1, 2)]])],
    ['L1 overlap', levels([1, [table(1, 1, 1, 20), table(2, 1, 19, 30)]])],
    ['L1 same smallest key', levels([1, [table(1, 1, 5, 5), table(2, 1, 5, 9)]])],
    ['blob files unsorted', levels(), [5, 3]],
  ]
  for (const [name, byLevel, blobs] of cases) {
    const broken = new Version(1, byLevel, (blobs ?? []).map(blob))
    tt.throws(() => broken.checkInvariants(), AssertionError, name)
  }
  tt.throws(() => new Version(1, levels().slice(1)), AssertionError, 'too few levels')
  tt.throws(() => new Version(-1, levels()), AssertionError, 'negative id')
})
