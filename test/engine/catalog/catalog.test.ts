/**
 * Catalog: trees under a data directory. Golden bytes and decode errors of OPTIONS.json, open
 * (valid names only, `.dropped-*` removed, `.staging-*` and files ignored, a broken tree listed
 * as a failure), create (options persisted before the tree opens, EXISTS, bad names and
 * options, no half tree after a failure), drop (closed, renamed away, removed; a fresh treeId on
 * re-create), the lock, and close.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import t, { type Test } from 'tap'

import {
  Catalog,
  TREE_OPTIONS_FILE_NAME,
  decodeTreeOptionsFile,
  encodeTreeOptionsFile,
  isValidTreeName,
  validateCatalogTreeOptions,
} from '../../../src/engine/catalog.js'
import { FaultVfs, MemVfs, isStrataError } from '../../../src/engine/index.js'

async function writeFile(vfs: MemVfs, path: string, data: string | Buffer): Promise<void> {
  const f = await vfs.create(path)
  f.append(typeof data === 'string' ? Buffer.from(data) : data)
  await f.sync()
  await f.close()
}

async function readText(vfs: MemVfs, path: string): Promise<string> {
  const f = await vfs.openReadable(path)
  try {
    return f.readAt(0, f.sizeBytes).toString('utf8')
  } finally {
    await f.close()
  }
}

function rejectsWith(t: Test, promise: Promise<unknown>, code: string, what: string): Promise<void> {
  return promise.then(
    () => void t.fail(`${what}: expected ${code}`),
    (error: unknown) => void t.ok(isStrataError(error) && error.code === code, `${what}: ${code} (got ${String((error as Error).message)})`),
  )
}

function throwsWith(t: Test, fn: () => unknown, code: string, what: string, file?: string): void {
  try {
    fn()
    t.fail(`${what}: expected ${code}`)
  } catch (error) {
    t.ok(isStrataError(error) && error.code === code, `${what}: ${code} (got ${(error as Error).message})`)
    if (file !== undefined && isStrataError(error)) t.equal(error.file, file, `${what}: names ${file}`)
  }
}

t.test('OPTIONS.json golden bytes, from the layout in catalog.ts', async (t) => {
  t.equal(encodeTreeOptionsFile({}).toString(), '{"formatVersion":1,"options":{}}')
  // Fields in the fixed order mergeOperator, compression, sync, filterBitsPerKey, whatever the input order.
  const bytes = encodeTreeOptionsFile({ filterBitsPerKey: 10, sync: 'none', compression: 'zstd', mergeOperator: 'counter' })
  const golden = '{"formatVersion":1,"options":{"mergeOperator":"counter","compression":"zstd","sync":"none","filterBitsPerKey":10}}'
  t.equal(bytes.toString('hex'), Buffer.from(golden).toString('hex'))
  t.same(decodeTreeOptionsFile(bytes), { mergeOperator: 'counter', compression: 'zstd', sync: 'none', filterBitsPerKey: 10 })
  t.same(decodeTreeOptionsFile(Buffer.from('{"options":{"sync":"always"},"formatVersion":1}')), { sync: 'always' }, 'any key order reads')
})

t.test('OPTIONS.json decode errors name the file', async (t) => {
  const bad: [string, string][] = [
    ['', 'CORRUPTION'],
    ['{"formatVersion":1,"options":', 'CORRUPTION'],
    ['[]', 'CORRUPTION'],
    ['{"options":{}}', 'CORRUPTION'],
    ['{"formatVersion":"1","options":{}}', 'CORRUPTION'],
    ['{"formatVersion":1.5,"options":{}}', 'CORRUPTION'],
    ['{"formatVersion":2,"options":{}}', 'UNSUPPORTED'],
    ['{"formatVersion":0,"options":{}}', 'UNSUPPORTED'],
    ['{"formatVersion":1}', 'CORRUPTION'],
    ['{"formatVersion":1,"options":[]}', 'CORRUPTION'],
    ['{"formatVersion":1,"options":{"colour":"blue"}}', 'UNSUPPORTED'],
    ['{"formatVersion":1,"options":{"compression":"lz4"}}', 'CORRUPTION'],
    ['{"formatVersion":1,"options":{"filterBitsPerKey":33}}', 'CORRUPTION'],
    ['{"formatVersion":1,"options":{"filterBitsPerKey":"10"}}', 'CORRUPTION'],
    ['{"formatVersion":1,"options":{"mergeOperator":"sum"}}', 'CORRUPTION'],
    ['{"formatVersion":1,"options":{"sync":true}}', 'CORRUPTION'],
  ]
  for (const [text, code] of bad) throwsWith(t, () => decodeTreeOptionsFile(Buffer.from(text)), code, JSON.stringify(text), TREE_OPTIONS_FILE_NAME)
  throwsWith(t, () => decodeTreeOptionsFile(Buffer.alloc(64 * 1024 + 1, 0x20)), 'CORRUPTION', 'oversize', TREE_OPTIONS_FILE_NAME)
  // Flipping any single byte of a valid file never decodes to the same options silently with a wrong value
  // in a structural position: either it fails, or (a flip inside a JSON string we do not read) it decodes.
  const good = encodeTreeOptionsFile({ mergeOperator: 'append', compression: 'zstd' })
  let failed = 0
  for (let i = 0; i < good.length; i++) {
    const copy = Buffer.from(good)
    copy[i] = copy[i]! ^ 0x01
    try {
      const o = decodeTreeOptionsFile(copy)
      t.ok(o.mergeOperator === 'append' || o.compression === 'zstd', `byte ${i}: a decodable flip keeps the options valid`)
    } catch (error) {
      t.ok(isStrataError(error) && (error.code === 'CORRUPTION' || error.code === 'UNSUPPORTED'), `byte ${i}`)
      failed++
    }
  }
  t.ok(failed > good.length / 2, `most flips are detected (${failed}/${good.length})`)
})

t.test('names and option validation', async (t) => {
  for (const name of ['a', 'Z', '0', 'a.b-c_d', 'x'.repeat(64)]) t.ok(isValidTreeName(name), name)
  for (const name of ['', '.', '..', '.a', '-a', '_a', 'x'.repeat(65), 'a/b', 'a b', 'é', '.dropped-1', '.staging-1', 'a\0']) t.notOk(isValidTreeName(name), JSON.stringify(name))
  t.same(validateCatalogTreeOptions(undefined), {})
  t.same(validateCatalogTreeOptions({ sync: 'none', mergeOperator: undefined }), { sync: 'none' })
  for (const bad of [null, [], 'x', { colour: 1 }, { compression: 'lz4' }, { filterBitsPerKey: -1 }, { filterBitsPerKey: 1.5 }]) {
    throwsWith(t, () => validateCatalogTreeOptions(bad), 'INVALID_ARGUMENT', JSON.stringify(bad))
  }
})

t.test('create persists options before the tree opens; reopen restores them', async (t) => {
  const vfs = new MemVfs()
  const catalog = await Catalog.open('/data', { vfs, defaults: { sync: 'none' } })
  t.same(catalog.list(), [])
  const tree = await catalog.create('counts', { mergeOperator: 'counter', compression: 'zstd' })
  t.equal(catalog.get('counts'), tree)
  t.same(catalog.optionsOf('counts'), { mergeOperator: 'counter', compression: 'zstd' })
  t.equal(await readText(vfs, '/data/counts/OPTIONS.json'), '{"formatVersion":1,"options":{"mergeOperator":"counter","compression":"zstd"}}')
  t.match(tree.stats().options, { mergeOperator: 'counter', compression: 'zstd', sync: 'none' }, 'the default sync applies when the tree has none')
  const one = Buffer.alloc(8)
  one.writeBigInt64LE(1n)
  await tree.merge('c', one)
  const id = tree.treeId
  await catalog.close()
  await catalog.close() // idempotent

  const again = await Catalog.open('/data', { vfs, defaults: { sync: 'always' } })
  const reopened = again.get('counts')!
  t.equal(reopened.treeId, id)
  t.match(reopened.stats().options, { mergeOperator: 'counter', compression: 'zstd', sync: 'always' })
  await reopened.merge('c', one)
  t.equal(reopened.get('c')!.readBigInt64LE(0), 2n)
  await rejectsWith(t, again.create('counts'), 'EXISTS', 'create an existing tree')
  await rejectsWith(t, again.create('bad name'), 'INVALID_ARGUMENT', 'bad name')
  await rejectsWith(t, again.create('ok', { compression: 'lz4' } as never), 'INVALID_ARGUMENT', 'bad option')
  await again.close()
  await rejectsWith(t, again.create('late'), 'CLOSED', 'after close')
})

t.test('open: only valid tree directories; .dropped-* removed; .staging-* and files ignored', async (t) => {
  const vfs = new MemVfs()
  await vfs.mkdirp('/data/.dropped-abc')
  await writeFile(vfs, '/data/.dropped-abc/000001.sst', 'junk')
  await vfs.mkdirp('/data/.staging-def')
  await writeFile(vfs, '/data/.staging-def/OPTIONS.json', '{"formatVersion":1,"options":{}}')
  await vfs.mkdirp('/data/lost+found')
  await writeFile(vfs, '/data/afile', 'not a tree')
  await vfs.mkdirp('/data/empty') // a valid name: a tree with catalog defaults
  const catalog = await Catalog.open('/data', { vfs })
  t.same(catalog.list().map((e) => e.name), ['empty'])
  t.same(catalog.optionsOf('empty'), {})
  t.notOk(await vfs.exists('/data/.dropped-abc'), '.dropped-* removed')
  t.ok(await vfs.exists('/data/.staging-def'), '.staging-* left alone')
  await rejectsWith(t, catalog.create('afile'), 'EXISTS', 'a file takes the name')
  await catalog.close()
})

t.test('a tree that fails to open is a failure, not a fatal error; it can be dropped', async (t) => {
  const vfs = new MemVfs()
  await vfs.mkdirp('/data/good')
  await vfs.mkdirp('/data/bad')
  await writeFile(vfs, '/data/bad/OPTIONS.json', '{"formatVersion":9,"options":{}}')
  await vfs.mkdirp('/data/worse')
  await writeFile(vfs, '/data/worse/000007.sst', 'a table without CURRENT')
  const catalog = await Catalog.open('/data', { vfs })
  t.same(catalog.list().map((e) => e.name), ['good'])
  t.same(catalog.failures().map((f) => [f.name, f.error.code]), [['bad', 'UNSUPPORTED'], ['worse', 'CORRUPTION']])
  t.equal(catalog.get('bad'), undefined)
  t.equal(catalog.failure('bad')?.code, 'UNSUPPORTED')
  await rejectsWith(t, catalog.create('bad'), 'EXISTS', 'the name of a failed tree is taken')
  await catalog.drop('bad')
  t.notOk(await vfs.exists('/data/bad'))
  t.same(catalog.failures().map((f) => f.name), ['worse'])
  await catalog.close()
})

t.test('drop: closes, removes, and a re-created tree gets a new treeId', async (t) => {
  const vfs = new MemVfs()
  const catalog = await Catalog.open('/data', { vfs })
  const tree = await catalog.create('t')
  await tree.put('k', 'v')
  const id = tree.treeId
  await catalog.drop('t')
  t.equal(catalog.get('t'), undefined)
  await rejectsWith(t, tree.put('k', 'w'), 'CLOSED', 'the dropped tree is closed')
  t.same((await vfs.list('/data')).filter((n) => n !== '.lock'), [], 'no directory left')
  await rejectsWith(t, catalog.drop('t'), 'NOT_FOUND', 'drop twice')
  const again = await catalog.create('t')
  t.not(again.treeId, id)
  t.equal(again.get('k'), undefined)
  await catalog.close()
})

t.test('concurrent creates and drops of one name', async (t) => {
  const vfs = new MemVfs()
  const catalog = await Catalog.open('/data', { vfs })
  const results = await Promise.allSettled([catalog.create('x'), catalog.create('x'), catalog.create('x')])
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'one create wins')
  for (const r of results) if (r.status === 'rejected') t.ok(isStrataError(r.reason, 'EXISTS'))
  const drops = await Promise.allSettled([catalog.drop('x'), catalog.drop('x')])
  t.equal(drops.filter((r) => r.status === 'fulfilled').length, 1, 'one drop wins')
  const racing = catalog.create('y')
  await rejectsWith(t, catalog.drop('y'), 'NOT_FOUND', 'drop while the create runs')
  await racing
  t.ok(catalog.get('y'))
  await catalog.close()
})

t.test('a create that fails midway leaves no tree and no staging directory', async (t) => {
  const fault = new FaultVfs(new MemVfs())
  const catalog = await Catalog.open('/data', { vfs: fault })
  fault.injectNth({ op: 'rename', nth: 1, path: /\.staging-/ })
  await rejectsWith(t, catalog.create('t'), 'IO', 'rename fails')
  t.same((await fault.list('/data')).filter((n) => n !== '.lock'), [], 'nothing left')
  fault.injectNth({ op: 'create', nth: 1, path: /OPTIONS\.json/ })
  await rejectsWith(t, catalog.create('t'), 'IO', 'OPTIONS.json create fails')
  t.same((await fault.list('/data')).filter((n) => n !== '.lock'), [], 'nothing left')
  t.ok(await catalog.create('t'), 'the name is free again')
  await catalog.close()
})

t.test('one catalog per data directory', async (t) => {
  const vfs = new MemVfs()
  const first = await Catalog.open('/data', { vfs })
  await rejectsWith(t, Catalog.open('/data', { vfs }), 'LOCKED', 'second open')
  await first.close()
  const second = await Catalog.open('/data', { vfs })
  await second.close()
})

t.test('on the real file system', async (t) => {
  const dir = t.testdir({ stray: 'file', '.dropped-old': { junk: 'x' } })
  mkdirSync(join(dir, 'manual'))
  writeFileSync(join(dir, 'manual', 'README'), 'made by hand')
  const catalog = await Catalog.open(dir, { defaults: { sync: 'none' } })
  t.same(catalog.list().map((e) => e.name), ['manual'])
  // No writes here: reopening a tree with a WAL to replay flushes it, and a flush on the node
  // Vfs boots a worker thread (seconds under the test loader). Data round trips are on MemVfs above.
  await catalog.create('real', { compression: 'zstd' })
  t.ok(readdirSync(join(dir, 'real')).includes('OPTIONS.json'))
  await catalog.drop('manual')
  await catalog.close()
  t.same(readdirSync(dir).filter((n) => n !== '.lock').sort(), ['real', 'stray'], 'no leftovers')
  const again = await Catalog.open(dir)
  t.same(again.list().map((e) => [e.name, e.options]), [['real', { compression: 'zstd' }]])
  await again.close()
})
