/**
 * The Vfs contract (src/engine/vfs/vfs.ts) as a reusable tap suite, run against NodeVfs and
 * MemVfs so both behave alike (abstract-level's shared test suite idea).
 */
import type { Test } from 'tap'

import { AssertionError } from '../../src/engine/base/assert.js'
import { type ErrorCode, StrataError } from '../../src/engine/errors.js'
import type { Vfs } from '../../src/engine/vfs/vfs.js'
import { Prng, testSeed } from './prng.js'

export interface VfsFixture {
  vfs: Vfs
  /** An existing, empty directory to work in. */
  root: string
  cleanup(): Promise<void>
}

export interface ExpectedError {
  code: ErrorCode
  /** Base name the error must name. */
  file?: string
  /** `code` of the system error in `cause`. */
  causeCode?: string
  offset?: number
}

/** Checks a StrataError's code, file, cause and that its message has no full path. */
export function checkError(t: Test, err: unknown, expected: ExpectedError, root: string): void {
  if (!(err instanceof StrataError)) {
    t.fail(`expected a StrataError ${expected.code}, got ${String(err)}`)
    return
  }
  t.equal(err.code, expected.code, `code ${expected.code}`)
  if (expected.file !== undefined) {
    t.equal(err.file, expected.file, 'names the base name')
    // LOCKED reads "tree is locked by process N": the file is in `file` only.
    if (expected.code !== 'LOCKED') t.ok(err.message.includes(expected.file), 'message names the file')
  }
  if (expected.causeCode !== undefined) {
    t.equal((err.cause as NodeJS.ErrnoException | undefined)?.code, expected.causeCode, 'cause code')
  }
  if (expected.offset !== undefined) t.equal(err.offset, expected.offset, 'offset')
  t.notOk(err.message.includes(root), 'message carries no full path')
}

export async function rejectsWith(
  t: Test,
  promise: Promise<unknown>,
  expected: ExpectedError,
  root: string,
): Promise<void> {
  try {
    await promise
  } catch (err) {
    checkError(t, err, expected, root)
    return
  }
  t.fail(`expected ${expected.code}, but it resolved`)
}

export function throwsWith(t: Test, call: () => unknown, expected: ExpectedError, root: string): void {
  try {
    call()
  } catch (err) {
    checkError(t, err, expected, root)
    return
  }
  t.fail(`expected ${expected.code}, but it returned`)
}

export async function writeFile(vfs: Vfs, path: string, data: string | Uint8Array): Promise<void> {
  const file = await vfs.create(path)
  file.append(typeof data === 'string' ? Buffer.from(data) : data)
  await file.sync()
  await file.close()
}

export async function readFile(vfs: Vfs, path: string): Promise<string> {
  const file = await vfs.openReadable(path)
  const data = file.readAt(0, file.sizeBytes)
  await file.close()
  return data.toString()
}

type ContractCase = (t: Test, vfs: Vfs, root: string) => Promise<void>

const cases: Record<string, ContractCase> = {
  'append, sync and read back': async (t, vfs, root) => {
    const file = await vfs.create(`${root}/data.bin`)
    t.equal(file.sizeBytes, 0)
    file.append(Buffer.from('hello'))
    file.append(new Uint8Array(0))
    file.append(Buffer.from('world'))
    t.equal(file.sizeBytes, 10)
    await file.sync()
    await file.close()
    await file.close() // idempotent
    const reader = await vfs.openReadable(`${root}/data.bin`)
    t.equal(reader.sizeBytes, 10)
    t.equal(reader.readAt(0, 10).toString(), 'helloworld')
    t.equal(reader.readAt(3, 4).toString(), 'lowo')
    t.equal(reader.readAt(10, 0).length, 0, 'empty read at the end')
    const owned = reader.readAt(0, 5)
    owned.fill(0)
    t.equal(reader.readAt(0, 5).toString(), 'hello', 'the caller owns the returned buffer')
    await reader.close()
    await reader.close()
    t.same(await vfs.stat(`${root}/data.bin`), { sizeBytes: 10, isDirectory: false })
  },

  'readAt past the end is CORRUPTION naming the file and offset': async (t, vfs, root) => {
    await writeFile(vfs, `${root}/000007.sst`, '0123456789')
    const reader = await vfs.openReadable(`${root}/000007.sst`)
    const expected = { code: 'CORRUPTION', file: '000007.sst', offset: 8 } as const
    throwsWith(t, () => reader.readAt(8, 3), expected, root)
    throwsWith(t, () => reader.readAt(11, 0), { ...expected, offset: 11 }, root)
    throwsWith(t, () => reader.readAt(2 ** 40, 1), { ...expected, offset: 2 ** 40 }, root)
    await reader.close()
  },

  'openReadableSync reads like openReadable and fails the same way': async (t, vfs, root) => {
    await writeFile(vfs, `${root}/000009.sst`, 'synchronous')
    const reader = vfs.openReadableSync(`${root}/000009.sst`)
    t.equal(reader.sizeBytes, 11)
    t.equal(reader.readAt(0, 4).toString(), 'sync')
    await reader.close()
    t.throws(() => reader.readAt(0, 1), AssertionError)
    throwsWith(t, () => vfs.openReadableSync(`${root}/gone.sst`), { code: 'NOT_FOUND', file: 'gone.sst' }, root)
    await vfs.mkdirp(`${root}/sdir`)
    throwsWith(t, () => vfs.openReadableSync(`${root}/sdir`), { code: 'IO', file: 'sdir', causeCode: 'EISDIR' }, root)
  },

  'a handle used after close is an assertion': async (t, vfs, root) => {
    const file = await vfs.create(`${root}/a`)
    await file.close()
    t.throws(() => file.append(Buffer.from('x')), AssertionError)
    await t.rejects(file.sync(), AssertionError)
    const reader = await vfs.openReadable(`${root}/a`)
    await reader.close()
    t.throws(() => reader.readAt(0, 0), AssertionError)
  },

  'create truncates into a new inode; a hard link keeps the old bytes': async (t, vfs, root) => {
    await writeFile(vfs, `${root}/MANIFEST`, 'old bytes')
    await vfs.link(`${root}/MANIFEST`, `${root}/checkpoint-MANIFEST`)
    const file = await vfs.create(`${root}/MANIFEST`)
    t.equal(file.sizeBytes, 0)
    file.append(Buffer.from('new'))
    await file.close()
    t.equal(await readFile(vfs, `${root}/MANIFEST`), 'new')
    t.equal(await readFile(vfs, `${root}/checkpoint-MANIFEST`), 'old bytes')
  },

  'openAppendable continues at the end; missing is NOT_FOUND': async (t, vfs, root) => {
    await writeFile(vfs, `${root}/000003.log`, 'abc')
    const file = await vfs.openAppendable(`${root}/000003.log`)
    t.equal(file.sizeBytes, 3)
    file.append(Buffer.from('de'))
    t.equal(file.sizeBytes, 5)
    await file.sync()
    await file.close()
    t.equal(await readFile(vfs, `${root}/000003.log`), 'abcde')
    const missing = { code: 'NOT_FOUND', file: 'nope.log' } as const
    await rejectsWith(t, vfs.openAppendable(`${root}/nope.log`), missing, root)
    t.notOk(await vfs.exists(`${root}/nope.log`), 'openAppendable does not create')
  },

  'open of a missing file is NOT_FOUND, of a directory IO EISDIR': async (t, vfs, root) => {
    await rejectsWith(t, vfs.openReadable(`${root}/gone.sst`), { code: 'NOT_FOUND', file: 'gone.sst' }, root)
    await vfs.mkdirp(`${root}/dir`)
    const isDirectory = { code: 'IO', file: 'dir', causeCode: 'EISDIR' } as const
    await rejectsWith(t, vfs.openReadable(`${root}/dir`), isDirectory, root)
    await rejectsWith(t, vfs.create(`${root}/missing/x`), { code: 'NOT_FOUND', file: 'x' }, root)
  },

  'open handles keep working after rename and remove': async (t, vfs, root) => {
    await writeFile(vfs, `${root}/a`, 'contents')
    const reader = await vfs.openReadable(`${root}/a`)
    await vfs.rename(`${root}/a`, `${root}/b`)
    t.equal(reader.readAt(0, 8).toString(), 'contents')
    await vfs.remove(`${root}/b`)
    t.equal(reader.readAt(2, 3).toString(), 'nte')
    await reader.close()
    const writer = await vfs.create(`${root}/c`)
    writer.append(Buffer.from('12'))
    await vfs.rename(`${root}/c`, `${root}/d`)
    writer.append(Buffer.from('34'))
    await writer.sync()
    await writer.close()
    t.equal(await readFile(vfs, `${root}/d`), '1234')
  },

  'rename replaces the target; a missing source is NOT_FOUND': async (t, vfs, root) => {
    await writeFile(vfs, `${root}/CURRENT.tmp`, 'new')
    await writeFile(vfs, `${root}/CURRENT`, 'old')
    await vfs.rename(`${root}/CURRENT.tmp`, `${root}/CURRENT`)
    t.equal(await readFile(vfs, `${root}/CURRENT`), 'new')
    t.notOk(await vfs.exists(`${root}/CURRENT.tmp`))
    t.same(await vfs.list(root), ['CURRENT'])
    const expected = { code: 'NOT_FOUND', file: 'CURRENT.tmp' } as const
    await rejectsWith(t, vfs.rename(`${root}/CURRENT.tmp`, `${root}/CURRENT`), expected, root)
    await vfs.mkdirp(`${root}/restore-tmp/sub`)
    await writeFile(vfs, `${root}/restore-tmp/sub/f`, 'x')
    await vfs.rename(`${root}/restore-tmp`, `${root}/tree`)
    t.equal(await readFile(vfs, `${root}/tree/sub/f`), 'x', 'directories rename too')
  },

  'link shares the bytes; an existing target is EXISTS': async (t, vfs, root) => {
    await writeFile(vfs, `${root}/000009.sst`, 'table')
    await vfs.mkdirp(`${root}/cp`)
    await vfs.link(`${root}/000009.sst`, `${root}/cp/000009.sst`)
    t.equal(await readFile(vfs, `${root}/cp/000009.sst`), 'table')
    await vfs.remove(`${root}/000009.sst`)
    t.equal(await readFile(vfs, `${root}/cp/000009.sst`), 'table', 'survives removal of the original')
    await writeFile(vfs, `${root}/other`, 'o')
    const exists = { code: 'EXISTS', file: '000009.sst' } as const
    await rejectsWith(t, vfs.link(`${root}/other`, `${root}/cp/000009.sst`), exists, root)
    const missing = { code: 'NOT_FOUND', file: 'nothing' } as const
    await rejectsWith(t, vfs.link(`${root}/nothing`, `${root}/cp/x`), missing, root)
  },

  'remove and removeAll': async (t, vfs, root) => {
    await writeFile(vfs, `${root}/f`, 'x')
    await vfs.remove(`${root}/f`)
    t.notOk(await vfs.exists(`${root}/f`))
    await rejectsWith(t, vfs.remove(`${root}/f`), { code: 'NOT_FOUND', file: 'f' }, root)
    await vfs.mkdirp(`${root}/d/e/f`)
    await writeFile(vfs, `${root}/d/e/f/g`, 'x')
    await writeFile(vfs, `${root}/d/h`, 'x')
    await rejectsWith(t, vfs.remove(`${root}/d`), { code: 'IO', file: 'd', causeCode: 'EISDIR' }, root)
    await vfs.removeAll(`${root}/d`)
    t.notOk(await vfs.exists(`${root}/d`))
    await vfs.removeAll(`${root}/d`) // missing: no error
    await vfs.removeAll(`${root}/no/such/parent`)
    await writeFile(vfs, `${root}/file`, 'x')
    await vfs.removeAll(`${root}/file`)
    t.same(await vfs.list(root), [])
  },

  'list returns sorted names; missing is NOT_FOUND, a file is ENOTDIR': async (t, vfs, root) => {
    for (const name of ['b', '000010.sst', 'a', '000009.sst', 'LOCK']) {
      await writeFile(vfs, `${root}/${name}`, '')
    }
    await vfs.mkdirp(`${root}/sub`)
    t.same(await vfs.list(root), ['000009.sst', '000010.sst', 'LOCK', 'a', 'b', 'sub'])
    t.same(await vfs.list(`${root}/sub`), [])
    await rejectsWith(t, vfs.list(`${root}/nope`), { code: 'NOT_FOUND', file: 'nope' }, root)
    await rejectsWith(t, vfs.list(`${root}/a`), { code: 'IO', file: 'a', causeCode: 'ENOTDIR' }, root)
  },

  'stat, exists and mkdirp': async (t, vfs, root) => {
    await vfs.mkdirp(`${root}/x/y/z`)
    await vfs.mkdirp(`${root}/x/y/z`) // idempotent
    await vfs.mkdirp(`${root}/x/y/z/`)
    t.equal((await vfs.stat(`${root}/x/y`)).isDirectory, true)
    t.ok(await vfs.exists(`${root}/x/y/z`))
    t.notOk(await vfs.exists(`${root}/x/q`))
    await writeFile(vfs, `${root}/x/file`, '12345')
    t.same(await vfs.stat(`${root}/x/file`), { sizeBytes: 5, isDirectory: false })
    t.notOk(await vfs.exists(`${root}/x/file/below`), 'below a file: false')
    await rejectsWith(t, vfs.stat(`${root}/x/nope`), { code: 'NOT_FOUND', file: 'nope' }, root)
    await rejectsWith(t, vfs.mkdirp(`${root}/x/file`), { code: 'EXISTS', file: 'file' }, root)
  },

  'syncDir on a directory; missing is NOT_FOUND': async (t, vfs, root) => {
    await writeFile(vfs, `${root}/f`, 'x')
    await vfs.syncDir(root)
    await rejectsWith(t, vfs.syncDir(`${root}/none`), { code: 'NOT_FOUND', file: 'none' }, root)
    t.pass('synced')
  },

  'lock is exclusive until released; release is idempotent': async (t, vfs, root) => {
    const lock = await vfs.lock(`${root}/LOCK`)
    await rejectsWith(t, vfs.lock(`${root}/LOCK`), { code: 'LOCKED', file: 'LOCK' }, root)
    await rejectsWith(t, vfs.lock(`${root}/./sub/../LOCK`), { code: 'LOCKED', file: 'LOCK' }, root)
    await lock.release()
    await lock.release()
    const again = await vfs.lock(`${root}/LOCK`)
    await again.release()
    t.notOk(await vfs.exists(`${root}/LOCK`), 'release removes the lock file')
    await rejectsWith(t, vfs.lock(`${root}/missing/LOCK`), { code: 'NOT_FOUND' }, root)
  },

  'randomized appends and reads match a model': async (t, vfs, root) => {
    const seed = testSeed()
    t.comment(`seed ${seed} (STRATA_SEED=${seed} to replay)`)
    const prng = new Prng(seed)
    const chunks: Buffer[] = []
    const file = await vfs.create(`${root}/random.bin`)
    for (let index = 0; index < 200; index++) {
      const chunk = prng.bytes(prng.pick([0, 1, 7, 100, 4096, 5000]))
      file.append(chunk)
      chunks.push(chunk)
      if (prng.bool(0.1)) await file.sync()
    }
    await file.close()
    const model = Buffer.concat(chunks)
    t.equal(file.sizeBytes, model.length, `size (seed ${seed})`)
    const reader = await vfs.openReadable(`${root}/random.bin`)
    let mismatches = 0
    for (let index = 0; index < 300; index++) {
      const offset = prng.int(model.length + 1)
      const length = prng.int(Math.min(model.length - offset, 20_000) + 1)
      if (!reader.readAt(offset, length).equals(model.subarray(offset, offset + length))) mismatches++
    }
    await reader.close()
    t.equal(mismatches, 0, `every random read matches (seed ${seed})`)
  },
}

/** Runs every contract case, each in a fresh fixture. */
export function runVfsContract(t: Test, makeFixture: () => Promise<VfsFixture>): void {
  for (const [name, body] of Object.entries(cases)) {
    t.test(name, async (t) => {
      const fixture = await makeFixture()
      t.teardown(() => fixture.cleanup())
      await body(t, fixture.vfs, fixture.root)
    })
  }
}
