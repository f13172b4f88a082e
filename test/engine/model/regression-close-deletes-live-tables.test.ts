/**
 * Regression (found by the conformance suite and the model test): Tree.close() unreferenced the
 * current Version with FileReferences.unref, which treats a Version's last reference as "its
 * tables are obsolete" and deletes them. Closing a tree whose data had been flushed therefore
 * removed every live .sst file, and the next open failed with NOT_FOUND (data loss).
 *
 * Expected: close() releases handles but never deletes a table the current Version holds.
 */
import t from 'tap'

import { MemVfs, Tree } from '../../../src/engine/index.js'

t.test('put, flush, close, reopen keeps the flushed table', async (t) => {
  const vfs = new MemVfs()
  const tree = await Tree.open('/db', { vfs })
  await tree.put('a', '1')
  await tree.flush()
  const tables = (await vfs.list('/db')).filter((n) => n.endsWith('.sst'))
  t.equal(tables.length, 1, 'the flush wrote one table')
  await tree.close()
  const after = (await vfs.list('/db')).filter((n) => n.endsWith('.sst'))
  t.same(after, tables, 'close() leaves the live tables in place')
  let reopened: Tree | undefined
  try {
    reopened = await Tree.open('/db', { vfs })
    t.same(reopened.get('a'), Buffer.from('1'), 'the flushed value survives close + open')
  } catch (error) {
    t.fail(`reopen failed: ${String(error)}`)
  } finally {
    await reopened?.close()
  }
})
