import t, { type Test } from 'tap'

import { AssertionError } from '../../../src/engine/base/assert.js'
import { isStrataError } from '../../../src/engine/errors.js'
import { readWholeFile, writeFileAtomic } from '../../../src/engine/vfs/atomic.js'
import { type FaultOp, FaultVfs } from '../../../src/engine/vfs/fault-vfs.js'
import { MemVfs } from '../../../src/engine/vfs/mem-vfs.js'
import { readFile, rejectsWith, throwsWith, writeFile } from '../../helpers/vfs-contract.js'

const ROOT = '/db'

async function setup(): Promise<{ mem: MemVfs; vfs: FaultVfs }> {
  const mem = new MemVfs()
  await mem.mkdirp(ROOT)
  return { mem, vfs: new FaultVfs(mem) }
}

t.test('injectNth fails exactly the nth matching call, counted from the injection', async (t) => {
  const { vfs } = await setup()
  const file = await vfs.create(`${ROOT}/000004.log`)
  await file.sync()
  vfs.injectNth({ op: 'sync', nth: 2 })
  await file.sync()
  await rejectsWith(t, file.sync(), { code: 'IO', file: '000004.log', causeCode: 'EIO' }, ROOT)
  await file.sync()
  t.pass('the rule is used up')
  t.equal(vfs.count('sync'), 4, 'count includes the failed call')
  t.equal(vfs.count('rename'), 0)
})

t.test('errno ENOSPC and the failing call does not reach the inner Vfs', async (t) => {
  const { mem, vfs } = await setup()
  vfs.injectNth({ op: 'create', nth: 1, errno: 'ENOSPC' })
  await rejectsWith(t, vfs.create(`${ROOT}/a`), { code: 'IO', file: 'a', causeCode: 'ENOSPC' }, ROOT)
  t.notOk(await mem.exists(`${ROOT}/a`))
  await writeFile(vfs, `${ROOT}/b`, 'b')
  vfs.injectNth({ op: 'rename', nth: 1 })
  const expected = { code: 'IO', file: 'b', causeCode: 'EIO' } as const
  await rejectsWith(t, vfs.rename(`${ROOT}/b`, `${ROOT}/c`), expected, ROOT)
  t.same(await mem.list(ROOT), ['b'], 'nothing renamed')
})

t.test('injectAlways fails every match until clear(); path filters match', async (t) => {
  const { vfs } = await setup()
  vfs.injectAlways({ op: 'create', path: /\.sst$/ })
  await writeFile(vfs, `${ROOT}/000001.log`, 'fine')
  for (let attempt = 0; attempt < 3; attempt++) {
    await rejectsWith(t, vfs.create(`${ROOT}/000002.sst`), { code: 'IO', file: '000002.sst' }, ROOT)
  }
  vfs.clear()
  await writeFile(vfs, `${ROOT}/000002.sst`, 'now fine')
  t.equal(vfs.count('create'), 5, 'clear() keeps counts')
  vfs.injectAlways({ op: 'link', path: /checkpoint/ })
  const linked = { code: 'IO', file: '000002.sst' } as const
  await rejectsWith(t, vfs.link(`${ROOT}/000002.sst`, `${ROOT}/checkpoint-1`), linked, ROOT)
})

t.test('partialAppend tears the write in half, then throws', async (t) => {
  const { mem, vfs } = await setup()
  const file = await vfs.create(`${ROOT}/000006.log`)
  file.append(Buffer.from('head-'))
  vfs.injectNth({ op: 'append', nth: 1, errno: 'ENOSPC', partialAppend: true })
  const expected = { code: 'IO', file: '000006.log', causeCode: 'ENOSPC' } as const
  throwsWith(t, () => file.append(Buffer.from('0123456789')), expected, ROOT)
  t.equal(mem.fileData(`${ROOT}/000006.log`).toString(), 'head-01234', 'first half reached the file')
  t.equal(file.sizeBytes, 10)
  vfs.injectNth({ op: 'append', nth: 1 })
  t.throws(() => file.append(Buffer.from('zz')))
  t.equal(mem.fileData(`${ROOT}/000006.log`).toString(), 'head-01234', 'a plain failure writes nothing')
  await file.close()
})

t.test('wrapped readers fail reads; opens fail too', async (t) => {
  const { vfs } = await setup()
  await writeFile(vfs, `${ROOT}/000008.sst`, 'abcdef')
  vfs.injectNth({ op: 'openReadable', nth: 1 })
  await rejectsWith(t, vfs.openReadable(`${ROOT}/000008.sst`), { code: 'IO', file: '000008.sst' }, ROOT)
  const reader = await vfs.openReadable(`${ROOT}/000008.sst`)
  t.equal(reader.sizeBytes, 6)
  vfs.injectNth({ op: 'read', nth: 2 })
  t.equal(reader.readAt(0, 3).toString(), 'abc')
  throwsWith(t, () => reader.readAt(3, 3), { code: 'IO', file: '000008.sst', causeCode: 'EIO' }, ROOT)
  t.equal(reader.readAt(3, 3).toString(), 'def')
  throwsWith(t, () => reader.readAt(4, 3), { code: 'CORRUPTION', file: '000008.sst', offset: 4 }, ROOT)
  await reader.close()
  vfs.injectNth({ op: 'openAppendable', nth: 1 })
  await rejectsWith(t, vfs.openAppendable(`${ROOT}/000008.sst`), { code: 'IO' }, ROOT)
})

t.test('every directory op is faultable and counted', async (t) => {
  const { vfs } = await setup()
  await writeFile(vfs, `${ROOT}/f`, 'x')
  const calls: Record<string, () => Promise<unknown>> = {
    remove: () => vfs.remove(`${ROOT}/f`),
    removeAll: () => vfs.removeAll(`${ROOT}/d`),
    syncDir: () => vfs.syncDir(ROOT),
    mkdirp: () => vfs.mkdirp(`${ROOT}/d`),
    list: () => vfs.list(ROOT),
    stat: () => vfs.stat(`${ROOT}/f`),
  }
  for (const [op, call] of Object.entries(calls)) {
    vfs.injectNth({ op: op as FaultOp, nth: 1 })
    await rejectsWith(t, call(), { code: 'IO' }, ROOT)
    t.equal(vfs.count(op as FaultOp), 1, `${op} counted`)
  }
  t.ok(await vfs.exists(`${ROOT}/f`), 'exists passes through; remove never ran')
  const lock = await vfs.lock(`${ROOT}/LOCK`)
  await lock.release()
})

t.test('onOp sees every call in order with its path', async (t) => {
  const { vfs } = await setup()
  const seen: string[] = []
  vfs.onOp = (op, path) => seen.push(`${op} ${path}`)
  await writeFile(vfs, `${ROOT}/a.tmp`, 'x')
  await vfs.rename(`${ROOT}/a.tmp`, `${ROOT}/a`)
  await vfs.syncDir(ROOT)
  t.same(seen, ['create /db/a.tmp', 'append /db/a.tmp', 'sync /db/a.tmp', 'rename /db/a.tmp', 'syncDir /db'])
})

t.test('misuse of the rules is an assertion', async (t) => {
  const { vfs } = await setup()
  t.throws(() => vfs.injectNth({ op: 'sync', nth: 0 }), AssertionError)
  t.throws(() => vfs.injectNth({ op: 'sync', nth: 1, partialAppend: true }), AssertionError)
  t.throws(() => vfs.injectAlways({ op: 'nope' as FaultOp }), AssertionError)
})

t.test('writeFileAtomic and readWholeFile round trip', async (t) => {
  const { mem } = await setup()
  await writeFileAtomic(mem, `${ROOT}/CURRENT`, Buffer.from('MANIFEST-000001\n'))
  t.equal((await readWholeFile(mem, `${ROOT}/CURRENT`)).toString(), 'MANIFEST-000001\n')
  await writeFileAtomic(mem, `${ROOT}/CURRENT`, new Uint8Array(0))
  t.equal((await readWholeFile(mem, `${ROOT}/CURRENT`)).length, 0, 'empty content')
  t.same(await mem.list(ROOT), ['CURRENT'], 'no temp file left')
  t.equal((await readWholeFile(mem.crashClone(), `${ROOT}/CURRENT`)).length, 0, 'durable once resolved')
  await rejectsWith(t, readWholeFile(mem, `${ROOT}/none`), { code: 'NOT_FOUND', file: 'none' }, ROOT)
  await t.rejects(writeFileAtomic(mem, `${ROOT}/x.tmp`, Buffer.from('')), AssertionError)
})

/** What a crash may leave at CURRENT: the old content (or nothing), or the new one. */
const NEW_CONTENT = 'new content, longer than the old'

async function checkOldOrNew(t: Test, vfs: MemVfs, oldContent: string | undefined, label: string) {
  const exists = await vfs.exists(`${ROOT}/CURRENT`)
  const content = exists ? await readFile(vfs, `${ROOT}/CURRENT`) : undefined
  t.ok(content === oldContent || content === NEW_CONTENT, `${label}: ${String(content)}`)
}

t.test('writeFileAtomic survives a crash before every op: old or new, never partial', async (t) => {
  for (const oldContent of ['old', undefined]) {
    const { mem, vfs } = await setup()
    if (oldContent !== undefined) mem.writeFileSyncedForTest(`${ROOT}/CURRENT`, Buffer.from(oldContent))
    const clones: { label: string; clone: MemVfs }[] = []
    vfs.onOp = (op) => {
      for (let seed = 0; seed < 3; seed++) {
        const clone = mem.crashClone({ seed, tornWrites: true })
        clones.push({ label: `before ${op} #${vfs.count(op)} seed ${seed}`, clone })
      }
    }
    await writeFileAtomic(vfs, `${ROOT}/CURRENT`, Buffer.from(NEW_CONTENT))
    clones.push({ label: 'after', clone: mem.crashClone({ seed: 1, tornWrites: true }) })
    t.same(clones.length, 3 * 5 + 1, 'create, append, sync, rename, syncDir')
    for (const { label, clone } of clones) await checkOldOrNew(t, clone, oldContent, label)
    const last = clones[clones.length - 1]?.clone as MemVfs
    t.equal(await readFile(last, `${ROOT}/CURRENT`), NEW_CONTENT, 'the new content is durable')
  }
})

t.test('writeFileAtomic failing at each op leaves old or new and no temp file', async (t) => {
  const ops: FaultOp[] = ['create', 'append', 'sync', 'rename', 'syncDir']
  for (const op of ops) {
    const { mem, vfs } = await setup()
    mem.writeFileSyncedForTest(`${ROOT}/CURRENT`, Buffer.from('old'))
    vfs.injectNth({ op, nth: 1, errno: 'ENOSPC', partialAppend: op === 'append' })
    let failure: unknown
    await writeFileAtomic(vfs, `${ROOT}/CURRENT`, Buffer.from(NEW_CONTENT)).catch((err: unknown) => {
      failure = err
    })
    t.ok(isStrataError(failure, 'IO'), `${op}: the write rejects with IO`)
    await checkOldOrNew(t, mem, 'old', `${op} failed, live state`)
    await checkOldOrNew(t, mem.crashClone(), 'old', `${op} failed, then a crash`)
    t.same(await mem.list(ROOT), ['CURRENT'], `${op}: the temp file is removed`)
  }
})
