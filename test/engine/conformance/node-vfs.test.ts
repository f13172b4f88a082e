/**
 * The Tree conformance suite on NodeVfs: every test gets its own temporary directory, removed
 * afterwards.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'

import { Tree, nodeVfs } from '../../../src/engine/index.js'
import { runConformance } from './tree-conformance.js'

runConformance(t, 'Tree on NodeVfs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-conformance-'))
  return {
    open: (options = {}) => Tree.open(join(dir, 'db'), { ...options, vfs: nodeVfs }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
})
