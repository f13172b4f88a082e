/**
 * EditHistory: a bounded ring of recent edits. since(v) returns the edits after v while they
 * are held, undefined (VERSION_GONE) once evicted or for versions it never saw.
 */
import t from 'tap'

import { AssertionError } from '../../../src/engine/base/assert.js'
import { EditHistory } from '../../../src/engine/version/edit-history.js'
import { emptyEdit, type VersionEdit } from '../../../src/engine/version/version-edit.js'

const editFor = (versionId: number): VersionEdit => ({ ...emptyEdit(), versionId, lastSeqno: versionId * 10 })
const versionIds = (edits: VersionEdit[] | undefined): (number | undefined)[] | undefined =>
  edits?.map((e) => e.versionId)

t.test('empty history answers only for its base', async (tt) => {
  const history = new EditHistory(4, 17)
  tt.equal(history.oldestVersionId, 17)
  tt.equal(history.newestVersionId, 17)
  tt.same(history.since(17), [])
  tt.equal(history.since(16), undefined)
  tt.equal(history.since(18), undefined)
  tt.equal(new EditHistory(1).oldestVersionId, 0)
})

t.test('holds the last maxEdits edits', async (tt) => {
  const history = new EditHistory(3)
  for (let v = 1; v <= 3; v++) history.record(v, editFor(v))
  tt.equal(history.oldestVersionId, 0)
  tt.same(versionIds(history.since(0)), [1, 2, 3])
  tt.same(versionIds(history.since(2)), [3])
  tt.same(history.since(3), [])
  history.record(4, editFor(4))
  tt.equal(history.oldestVersionId, 1, 'version 0 fell out')
  tt.equal(history.since(0), undefined, 'gone')
  tt.same(versionIds(history.since(1)), [2, 3, 4])
  for (let v = 5; v <= 100; v++) history.record(v, editFor(v))
  tt.equal(history.size, 3)
  tt.equal(history.oldestVersionId, 97)
  tt.same(versionIds(history.since(97)), [98, 99, 100])
  tt.equal(history.since(96), undefined)
  tt.equal(history.since(101), undefined, 'a version never seen')
  tt.equal(history.since(Number.NaN), undefined)
  tt.equal(history.since(97.5), undefined)
})

t.test('a ring of one', async (tt) => {
  const history = new EditHistory(1, 5)
  history.record(6, editFor(6))
  tt.same(versionIds(history.since(5)), [6])
  history.record(7, editFor(7))
  tt.equal(history.since(5), undefined)
  tt.same(versionIds(history.since(6)), [7])
})

t.test('record requires consecutive versionIds', async (tt) => {
  const history = new EditHistory(3, 10)
  tt.throws(() => history.record(12, editFor(12)), AssertionError, 'gap')
  tt.throws(() => history.record(10, editFor(10)), AssertionError, 'repeat of the base')
  tt.throws(() => history.record(11, editFor(99)), AssertionError, 'edit versionId mismatch')
  history.record(11, editFor(11))
  tt.throws(() => history.record(11, editFor(11)), AssertionError, 'repeat')
  tt.throws(() => new EditHistory(0), AssertionError)
  tt.throws(() => new EditHistory(2, -1), AssertionError)
})
