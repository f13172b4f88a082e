// The follower's position (manifest tag 1002 replicatedVersionId) round-trips through the edit
// encoding, survives manifest rollover and never goes back.
import t from 'tap'
import { MemVfs } from '../../../src/engine/index.js'
import { decodeVersionEdit, emptyEdit, encodeVersionEdit } from '../../../src/engine/version/version-edit.js'
import { VersionSet } from '../../../src/engine/version/version-set.js'

t.test('tag 1002 round-trips and is a scalar', async (t) => {
  const edit = { ...emptyEdit(), versionId: 9, lastSeqno: 40, replicatedVersionId: 123456 }
  const decoded = decodeVersionEdit(encodeVersionEdit(edit), 'MANIFEST-000001', 0)
  t.equal(decoded.replicatedVersionId, 123456)
  t.equal(decodeVersionEdit(encodeVersionEdit({ ...emptyEdit(), versionId: 2 }), 'M', 0).replicatedVersionId, undefined)
})

t.test('the position survives rollover and recovery', async (t) => {
  const vfs = new MemVfs()
  const set = await VersionSet.create(vfs, '/t', { treeId: 'tree', mergeOperatorName: null }, { rolloverBytes: 0 })
  await set.logAndApply({ ...emptyEdit(), lastSeqno: 5, replicatedVersionId: 77 })
  await set.logAndApply({ ...emptyEdit() }) // rolls over: the snapshot must carry 77
  await set.logAndApply({ ...emptyEdit() })
  t.equal(set.replicatedVersionId, 77)
  await set.close()
  const again = await VersionSet.recover(vfs, '/t')
  t.equal(again.replicatedVersionId, 77, 'recovered')
  t.equal(again.lastSeqno, 5)
  await t.rejects(again.logAndApply({ ...emptyEdit(), replicatedVersionId: 70 }), /never goes back/)
  await again.logAndApply({ ...emptyEdit(), replicatedVersionId: 80 })
  t.equal(again.replicatedVersionId, 80)
  await again.close()
})
