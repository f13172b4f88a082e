import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import t from 'tap'

import { NodeVfs, nodeVfs } from '../../../src/engine/vfs/node-vfs.js'
import { Prng, testSeed } from '../../helpers/prng.js'
import { readFile, rejectsWith, runVfsContract, throwsWith, writeFile } from '../../helpers/vfs-contract.js'

async function makeTempDir(): Promise<string> {
  return fs.promises.mkdtemp(path.join(os.tmpdir(), 'strata-node-vfs-'))
}

t.test('contract', async (t) => {
  runVfsContract(t, async () => {
    const root = await makeTempDir()
    return { vfs: new NodeVfs(), root, cleanup: () => fs.promises.rm(root, { recursive: true, force: true }) }
  })
})

t.test('nodeVfs is a shared NodeVfs', async (t) => {
  t.ok(nodeVfs instanceof NodeVfs)
})

t.test('large appends and reads are never short', async (t) => {
  const root = await makeTempDir()
  t.teardown(() => fs.promises.rm(root, { recursive: true, force: true }))
  const seed = testSeed()
  t.comment(`seed ${seed}`)
  const prng = new Prng(seed)
  const big = prng.bytes(9 * 1024 * 1024 + 17)
  const file = await nodeVfs.create(`${root}/big`)
  file.append(big)
  await file.sync()
  await file.close()
  t.equal((await nodeVfs.stat(`${root}/big`)).sizeBytes, big.length)
  const reader = await nodeVfs.openReadable(`${root}/big`)
  t.ok(reader.readAt(0, big.length).equals(big), 'whole file')
  const span = reader.readAt(3_000_001, 4_000_000)
  t.ok(span.equals(big.subarray(3_000_001, 7_000_001)), `a span (seed ${seed})`)
  await reader.close()
})

t.test('a file that shrinks under a reader gives CORRUPTION at the end offset', async (t) => {
  const root = await makeTempDir()
  t.teardown(() => fs.promises.rm(root, { recursive: true, force: true }))
  await writeFile(nodeVfs, `${root}/000012.log`, '0123456789')
  const reader = await nodeVfs.openReadable(`${root}/000012.log`)
  fs.truncateSync(`${root}/000012.log`, 6)
  const expected = { code: 'CORRUPTION', file: '000012.log', offset: 6 } as const
  throwsWith(t, () => reader.readAt(4, 4), expected, root)
  t.equal(reader.readAt(1, 3).toString(), '123', 'the bytes still there read fine')
  await reader.close()
})

// /dev/full accepts opens and fails every write with ENOSPC (Linux).
const noDevFull = !fs.existsSync('/dev/full')
t.test('ENOSPC from the OS is IO with the system error as cause', { skip: noDevFull }, async (t) => {
  const file = await nodeVfs.openAppendable('/dev/full')
  const expected = { code: 'IO', file: 'full', causeCode: 'ENOSPC' } as const
  throwsWith(t, () => file.append(Buffer.from('x')), expected, '/dev/')
  await file.close()
})

t.test('create replaces a file that is read-only and still open for reading', async (t) => {
  const root = await makeTempDir()
  t.teardown(() => fs.promises.rm(root, { recursive: true, force: true }))
  await writeFile(nodeVfs, `${root}/OPTIONS`, 'v1')
  const reader = await nodeVfs.openReadable(`${root}/OPTIONS`)
  fs.chmodSync(`${root}/OPTIONS`, 0o444)
  await writeFile(nodeVfs, `${root}/OPTIONS`, 'version 2')
  t.equal(reader.readAt(0, 2).toString(), 'v1', 'the old inode is untouched')
  t.equal(await readFile(nodeVfs, `${root}/OPTIONS`), 'version 2')
  await reader.close()
})

t.test('link across a missing directory and errors on relative paths', async (t) => {
  const root = await makeTempDir()
  t.teardown(() => fs.promises.rm(root, { recursive: true, force: true }))
  await writeFile(nodeVfs, `${root}/a`, 'x')
  await rejectsWith(t, nodeVfs.link(`${root}/a`, `${root}/no/b`), { code: 'NOT_FOUND', file: 'b' }, root)
  const relative = path.relative(process.cwd(), `${root}/a`)
  t.equal(await readFile(nodeVfs, relative), 'x', 'relative paths resolve against the cwd')
})
