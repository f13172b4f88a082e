/**
 * CURRENT: round trip through writeCurrent/readCurrent, absence, every malformed content =>
 * CORRUPTION naming CURRENT at offset 0, and atomic replacement across a crash.
 */
import t from 'tap'

import { AssertionError } from '../../../src/engine/base/assert.js'
import { isCorruption } from '../../../src/engine/errors.js'
import { readCurrent, writeCurrent } from '../../../src/engine/version/current-file.js'
import { FaultVfs } from '../../../src/engine/vfs/fault-vfs.js'
import { MemVfs } from '../../../src/engine/vfs/mem-vfs.js'

const DIR = '/tree'

async function fresh(): Promise<MemVfs> {
  const vfs = new MemVfs()
  await vfs.mkdirp(DIR)
  return vfs
}

t.test('absent CURRENT reads as undefined', async (tt) => {
  tt.equal(await readCurrent(await fresh(), DIR), undefined)
})

t.test('round trip, byte exact', async (tt) => {
  const vfs = await fresh()
  await writeCurrent(vfs, DIR, 'MANIFEST-000005')
  tt.equal(vfs.fileData(`${DIR}/CURRENT`).toString('hex'), Buffer.from('MANIFEST-000005\n').toString('hex'))
  tt.equal(await readCurrent(vfs, DIR), 'MANIFEST-000005')
  await writeCurrent(vfs, DIR, 'MANIFEST-1234567')
  tt.equal(await readCurrent(vfs, DIR), 'MANIFEST-1234567')
  tt.notOk((await vfs.list(DIR)).some((name) => name.endsWith('.tmp')), 'no temp file left')
  await tt.rejects(writeCurrent(vfs, DIR, '000005.log'), AssertionError)
})

t.test('writeCurrent is durable and atomic across a crash', async (tt) => {
  const vfs = await fresh()
  await writeCurrent(vfs, DIR, 'MANIFEST-000002')
  tt.equal(await readCurrent(vfs.crashClone(), DIR), 'MANIFEST-000002')
  // A crash before any step of the replace: before each Vfs call, clone what would survive.
  const faults = new FaultVfs(vfs)
  const clones: MemVfs[] = []
  faults.onOp = () => {
    clones.push(vfs.crashClone(), vfs.crashClone({ tornWrites: true, seed: clones.length }))
  }
  await writeCurrent(faults, DIR, 'MANIFEST-000009')
  faults.onOp = undefined
  tt.ok(clones.length >= 10, `${clones.length / 2} crash points`)
  clones.push(vfs.crashClone())
  const seen = new Set<string | undefined>()
  for (const clone of clones) seen.add(await readCurrent(clone, DIR))
  tt.same([...seen].sort(), ['MANIFEST-000002', 'MANIFEST-000009'], 'old or new, never anything else')
  tt.equal(await readCurrent(vfs.crashClone(), DIR), 'MANIFEST-000009')
})

t.test('malformed CURRENT is CORRUPTION naming CURRENT', async (tt) => {
  const contents = [
    '', '\n', 'MANIFEST-000005', 'MANIFEST-000005\n\n', 'MANIFEST-5\n', 'MANIFEST-000005 \n',
    '000005.log\n', 'manifest-000005\n', '../MANIFEST-000005\n', 'MANIFEST-000000\n', 'x'.repeat(65),
    'MANIFEST-000005\r\n',
  ]
  for (const text of contents) {
    const vfs = await fresh()
    vfs.writeFileSyncedForTest(`${DIR}/CURRENT`, Buffer.from(text, 'latin1'))
    try {
      await readCurrent(vfs, DIR)
      tt.fail(`accepted ${JSON.stringify(text)}`)
    } catch (err) {
      tt.ok(isCorruption(err), JSON.stringify(text))
      if (isCorruption(err)) {
        tt.equal(err.file, 'CURRENT')
        tt.equal(err.offset, 0)
        tt.notMatch(err.message, DIR, 'no directory path in the message')
      }
    }
  }
})
