import t from 'tap'

import { AssertionError } from '../../../src/engine/base/assert.js'
import { MemVfs } from '../../../src/engine/vfs/mem-vfs.js'
import { Prng, testSeed } from '../../helpers/prng.js'
import { readFile, rejectsWith, runVfsContract, throwsWith, writeFile } from '../../helpers/vfs-contract.js'

const ROOT = '/data/tree'

async function freshVfs(): Promise<MemVfs> {
  const vfs = new MemVfs()
  await vfs.mkdirp(ROOT)
  return vfs
}

async function createUnsynced(vfs: MemVfs, path: string, data: string): Promise<void> {
  const file = await vfs.create(path)
  file.append(Buffer.from(data))
  await file.close()
}

t.test('contract', async (t) => {
  runVfsContract(t, async () => ({ vfs: await freshVfs(), root: ROOT, cleanup: async () => undefined }))
})

t.test('crashClone drops unsynced bytes and keeps synced ones', async (t) => {
  const vfs = await freshVfs()
  const file = await vfs.create(`${ROOT}/000001.log`)
  await vfs.syncDir(ROOT)
  file.append(Buffer.from('synced|'))
  await file.sync()
  file.append(Buffer.from('lost'))
  t.equal(vfs.fileData(`${ROOT}/000001.log`).toString(), 'synced|lost', 'before the crash: all bytes')
  const crashed = vfs.crashClone()
  t.equal(await readFile(crashed, `${ROOT}/000001.log`), 'synced|')
  file.append(Buffer.from('more'))
  await file.close()
  t.equal(await readFile(crashed, `${ROOT}/000001.log`), 'synced|', 'the clone is independent')
  t.equal(vfs.fileData(`${ROOT}/000001.log`).toString(), 'synced|lostmore', 'the source is unchanged')
})

t.test('a created file exists after a crash only once its directory is synced', async (t) => {
  const vfs = await freshVfs()
  await writeFile(vfs, `${ROOT}/a`, 'data') // file synced, directory not
  t.notOk(await vfs.crashClone().exists(`${ROOT}/a`), 'no syncDir: gone')
  await vfs.syncDir(ROOT)
  t.equal(await readFile(vfs.crashClone(), `${ROOT}/a`), 'data')
  await createUnsynced(vfs, `${ROOT}/b`, 'never synced')
  await vfs.syncDir(ROOT)
  t.equal(await readFile(vfs.crashClone(), `${ROOT}/b`), '', 'entry durable, bytes not')
})

t.test('rename, link and remove are lost until syncDir', async (t) => {
  const vfs = await freshVfs()
  await writeFile(vfs, `${ROOT}/CURRENT`, 'old')
  await vfs.syncDir(ROOT)
  await writeFile(vfs, `${ROOT}/CURRENT.tmp`, 'new')
  await vfs.rename(`${ROOT}/CURRENT.tmp`, `${ROOT}/CURRENT`)
  await vfs.link(`${ROOT}/CURRENT`, `${ROOT}/linked`)
  let crashed = vfs.crashClone()
  t.equal(await readFile(crashed, `${ROOT}/CURRENT`), 'old', 'rename not durable yet')
  t.same(await crashed.list(ROOT), ['CURRENT'], 'neither temp nor link survive')
  await vfs.syncDir(ROOT)
  crashed = vfs.crashClone()
  t.equal(await readFile(crashed, `${ROOT}/CURRENT`), 'new')
  t.same(await crashed.list(ROOT), ['CURRENT', 'linked'])
  await vfs.remove(`${ROOT}/CURRENT`)
  t.same(await vfs.crashClone().list(ROOT), ['CURRENT', 'linked'], 'remove not durable yet')
  await vfs.syncDir(ROOT)
  t.same(await vfs.crashClone().list(ROOT), ['linked'])
})

t.test('a rename across directories needs both directories synced', async (t) => {
  const vfs = await freshVfs()
  await vfs.mkdirp(`${ROOT}/a`)
  await vfs.mkdirp(`${ROOT}/b`)
  await writeFile(vfs, `${ROOT}/a/f`, 'x')
  await vfs.syncDir(`${ROOT}/a`)
  await vfs.rename(`${ROOT}/a/f`, `${ROOT}/b/f`)
  await vfs.syncDir(`${ROOT}/b`)
  let crashed = vfs.crashClone()
  t.ok((await crashed.exists(`${ROOT}/a/f`)) && (await crashed.exists(`${ROOT}/b/f`)), 'both names')
  await vfs.syncDir(`${ROOT}/a`)
  crashed = vfs.crashClone()
  t.same([await crashed.exists(`${ROOT}/a/f`), await crashed.exists(`${ROOT}/b/f`)], [false, true])
})

t.test('mkdirp is durable at once; removeAll needs the parent synced', async (t) => {
  const vfs = new MemVfs()
  await vfs.mkdirp('/x/y/z')
  t.ok(await vfs.crashClone().exists('/x/y/z'))
  await writeFile(vfs, '/x/y/z/f', 'x')
  await vfs.syncDir('/x/y/z')
  await vfs.removeAll('/x/y')
  t.notOk(await vfs.exists('/x/y'))
  t.equal(await readFile(vfs.crashClone(), '/x/y/z/f'), 'x', 'the removed tree comes back')
  await vfs.syncDir('/x')
  t.notOk(await vfs.crashClone().exists('/x/y'))
})

t.test('tornWrites keeps a seeded-random prefix of the unsynced bytes', async (t) => {
  const vfs = await freshVfs()
  const file = await vfs.create(`${ROOT}/000002.log`)
  await vfs.syncDir(ROOT)
  const synced = Buffer.from('S'.repeat(100))
  const unsynced = Buffer.from('U'.repeat(1000))
  file.append(synced)
  await file.sync()
  file.append(unsynced)
  const all = Buffer.concat([synced, unsynced])
  const lengths = new Set<number>()
  for (let seed = 1; seed <= 20; seed++) {
    const crashed = vfs.crashClone({ seed, tornWrites: true })
    const reader = await crashed.openReadable(`${ROOT}/000002.log`)
    const size = reader.sizeBytes
    t.ok(size >= synced.length && size <= all.length, `seed ${seed}: between synced and all`)
    t.ok(reader.readAt(0, size).equals(all.subarray(0, size)), `seed ${seed}: a prefix`)
    await reader.close()
    lengths.add(size)
  }
  t.ok(lengths.size > 5, 'different seeds tear at different places')
  const first = vfs.crashClone({ seed: 7, tornWrites: true }).fileData(`${ROOT}/000002.log`)
  const second = vfs.crashClone({ seed: 7, tornWrites: true }).fileData(`${ROOT}/000002.log`)
  t.ok(first.equals(second), 'the same seed gives the same clone')
  const plain = vfs.crashClone({ seed: 7 }).fileData(`${ROOT}/000002.log`)
  t.ok(plain.equals(synced), 'without tornWrites only synced bytes')
})

t.test('a clone is fully synced and keeps hard links shared', async (t) => {
  const vfs = await freshVfs()
  await writeFile(vfs, `${ROOT}/a`, 'shared')
  await vfs.link(`${ROOT}/a`, `${ROOT}/b`)
  await vfs.syncDir(ROOT)
  const crashed = vfs.crashClone()
  const appender = await crashed.openAppendable(`${ROOT}/a`)
  appender.append(Buffer.from('+'))
  await appender.close()
  t.equal(await readFile(crashed, `${ROOT}/b`), 'shared+', 'one inode behind both names')
  const again = crashed.crashClone()
  t.equal(await readFile(again, `${ROOT}/a`), 'shared', 'the clone starts fully synced')
})

t.test('flipByte, fileData and writeFileSyncedForTest', async (t) => {
  const vfs = new MemVfs()
  vfs.writeFileSyncedForTest('/fixtures/deep/000005.sst', Buffer.from([1, 2, 3, 4]))
  const crashed = vfs.crashClone()
  t.same([...crashed.fileData('/fixtures/deep/000005.sst')], [1, 2, 3, 4], 'written, synced, durable')
  const reader = await vfs.openReadable('/fixtures/deep/000005.sst')
  vfs.flipByte('/fixtures/deep/000005.sst', 2)
  t.same([...reader.readAt(0, 4)], [1, 2, 0xfc, 4], 'visible to open readers')
  t.same([...vfs.crashClone().fileData('/fixtures/deep/000005.sst')], [1, 2, 0xfc, 4], 'survives a crash')
  t.same([...crashed.fileData('/fixtures/deep/000005.sst')], [1, 2, 3, 4], 'earlier clones untouched')
  vfs.flipByte('/fixtures/deep/000005.sst', 2)
  t.same([...vfs.fileData('/fixtures/deep/000005.sst')], [1, 2, 3, 4], 'a second flip restores')
  const copy = vfs.fileData('/fixtures/deep/000005.sst')
  copy[0] = 9
  t.equal(vfs.fileData('/fixtures/deep/000005.sst')[0], 1, 'fileData returns a copy')
  t.throws(() => vfs.flipByte('/fixtures/deep/000005.sst', 4), AssertionError)
  throwsWith(t, () => vfs.fileData('/fixtures/nope'), { code: 'NOT_FOUND', file: 'nope' }, '/fixtures/')
})

t.test('locks are per instance and show as a file', async (t) => {
  const vfs = await freshVfs()
  const lock = await vfs.lock(`${ROOT}/LOCK`)
  t.same(await vfs.list(ROOT), ['LOCK'])
  await rejectsWith(t, vfs.lock(`${ROOT}/LOCK`), { code: 'LOCKED', file: 'LOCK' }, ROOT)
  await vfs.syncDir(ROOT)
  const crashed = vfs.crashClone()
  const other = await crashed.lock(`${ROOT}/LOCK`)
  t.pass('a crash releases every lock')
  await other.release()
  await lock.release()
  t.same(await vfs.list(ROOT), [])
})

t.test('paths are POSIX: relative resolves against /, dots normalise', async (t) => {
  const vfs = new MemVfs()
  await vfs.mkdirp('a/b')
  await writeFile(vfs, '/a/./b/../b/f', 'x')
  t.equal(await readFile(vfs, 'a/b/f'), 'x')
  t.same(await vfs.list('/'), ['a'])
  t.same(await vfs.stat('/'), { sizeBytes: 0, isDirectory: true })
  await rejectsWith(t, vfs.rename('/a', '/a/b/c'), { code: 'IO', file: 'c', causeCode: 'EINVAL' }, '/a/b')
})

/** The randomized crash model: one directory, files written through handles, checked against
 *  a tiny model of inodes (bytes, synced length) and directory entries (current, durable). */
t.test('randomized operations then a crash match the durability model', async (t) => {
  const seed = testSeed()
  t.comment(`seed ${seed} (STRATA_SEED=${seed} to replay)`)
  const prng = new Prng(seed)
  const names = ['a', 'b', 'c', 'd']
  for (let round = 0; round < 40; round++) {
    const vfs = await freshVfs()
    const inodes: { data: Buffer; syncedLength: number }[] = []
    const current = new Map<string, number>()
    let durable = new Map<string, number>()
    const handles = new Map<number, Awaited<ReturnType<MemVfs['create']>>>()
    for (let step = 0; step < 30; step++) {
      const name = prng.pick(names)
      const other = prng.pick(names)
      const id = current.get(name)
      const op = prng.int(6)
      if (op === 0) {
        handles.set(inodes.length, await vfs.create(`${ROOT}/${name}`))
        current.set(name, inodes.length)
        inodes.push({ data: Buffer.alloc(0), syncedLength: 0 })
      } else if (op === 1 && id !== undefined && handles.has(id)) {
        const chunk = prng.bytes(prng.int(20))
        handles.get(id)?.append(chunk)
        const inode = inodes[id] as { data: Buffer }
        inode.data = Buffer.concat([inode.data, chunk])
      } else if (op === 2 && id !== undefined && handles.has(id)) {
        await handles.get(id)?.sync()
        const inode = inodes[id] as { data: Buffer; syncedLength: number }
        inode.syncedLength = inode.data.length
      } else if (op === 3 && id !== undefined) {
        await vfs.rename(`${ROOT}/${name}`, `${ROOT}/${other}`)
        current.delete(name)
        current.set(other, id)
      } else if (op === 4 && id !== undefined) {
        await vfs.remove(`${ROOT}/${name}`)
        current.delete(name)
      } else if (op === 5) {
        await vfs.syncDir(ROOT)
        durable = new Map(current)
      }
    }
    const tornWrites = prng.bool()
    const crashed = vfs.crashClone({ seed: prng.int(1000), tornWrites })
    t.same(await crashed.list(ROOT), [...durable.keys()].sort(), `round ${round}: names (seed ${seed})`)
    for (const [name, id] of durable) {
      const inode = inodes[id] as { data: Buffer; syncedLength: number }
      const data = crashed.fileData(`${ROOT}/${name}`)
      const expectedLength = tornWrites ? data.length : inode.syncedLength
      const fits = data.length === expectedLength && data.length >= inode.syncedLength
      t.ok(fits && data.equals(inode.data.subarray(0, data.length)), `round ${round}: ${name} (seed ${seed})`)
    }
  }
})
