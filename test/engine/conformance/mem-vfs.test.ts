/**
 * The Tree conformance suite on MemVfs: every test gets its own in-memory file system.
 */
import t from 'tap'

import { MemVfs, Tree } from '../../../src/engine/index.js'
import { runConformance } from './tree-conformance.js'

runConformance(t, 'Tree on MemVfs', async () => {
  const vfs = new MemVfs()
  return {
    open: (options = {}) => Tree.open('/trees/db', { ...options, vfs }),
    cleanup: () => vfs.removeAll('/trees'),
  }
})
