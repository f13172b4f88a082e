// restoreArchive (src/backup/restore.ts): a round trip of tar and tar.zst (new treeId, or the
// same one with keepTreeId), and the hostile-archive corpus: each case is refused with an
// InvalidArchiveError naming the broken rule, nothing is created in the data directory, nothing
// is written outside it, and no staging directory is left.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'

import t, { type Test } from 'tap'

import { InvalidArchiveError, encodeBackupManifest, restoreArchive, verifyArchive } from '../../src/backup/index.js'
import { Tree } from '../../src/engine/index.js'
import { Prng, testScale, testSeed } from '../helpers/prng.js'
import { flip, hostileCorpus, makeSourceTree, type SourceTree } from './archive-corpus.js'

/** The archive as a stream of small chunks (exercises every boundary of the parser). */
function chunked(data: Buffer, size = 997): Readable {
  const chunks: Buffer[] = []
  for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size))
  return Readable.from(chunks)
}

async function contents(dir: string): Promise<{ treeId: string; seqno: number; entries: Map<string, string> }> {
  const tree = await Tree.open(dir, { createIfMissing: false, backgroundThreads: 0 })
  try {
    return { treeId: tree.treeId, seqno: tree.seqno, entries: new Map([...tree.iterator()].map(([k, v]) => [k.toString(), v.toString()])) }
  } finally {
    await tree.close()
  }
}

let src: SourceTree
t.before(async () => {
  src = await makeSourceTree()
})
t.teardown(() => src.remove())

function workspace(t: Test): { parent: string; dataDir: string } {
  const parent = mkdtempSync(join(tmpdir(), 'strata-restore-'))
  t.teardown(() => rmSync(parent, { recursive: true, force: true }))
  const dataDir = join(parent, 'data')
  mkdirSync(dataDir)
  return { parent, dataDir }
}

t.test('round trip: tar and tar.zst, new treeId or kept', async (t) => {
  const { dataDir } = workspace(t)
  t.ok(src.manifest.files.length >= 4, `${src.manifest.files.length} files in the archive`)
  for (const [name, archive, keep] of [['plain', src.archive, false], ['zst', src.compressed, false], ['kept', src.archive, true]] as const) {
    const result = await restoreArchive(chunked(archive), { dataDir, treeName: name, keepTreeId: keep })
    t.equal(result.compressed, name === 'zst', `${name}: compression detected by its bytes`)
    t.equal(result.dir, join(dataDir, name))
    const got = await contents(result.dir)
    t.equal(got.seqno, src.manifest.seqno, `${name}: opens at the archive's seqno`)
    t.same(got.entries, src.entries, `${name}: exactly the source's data`)
    if (keep) t.equal(got.treeId, src.manifest.treeId, 'keepTreeId keeps the history id')
    else t.not(got.treeId, src.manifest.treeId, 'a restored tree gets a new treeId')
    t.equal(result.treeId, got.treeId)
  }
  t.same(readdirSync(dataDir).sort(), ['kept', 'plain', 'zst'], 'no staging directory left')
  await t.rejects(restoreArchive(chunked(src.archive), { dataDir, treeName: 'plain' }), { code: 'EXISTS' }, 'an existing tree is not replaced')
  await t.rejects(restoreArchive(chunked(src.archive), { dataDir, treeName: '../x' }), { code: 'INVALID_ARGUMENT' })
})

t.test('verifyArchive checks without writing', async (t) => {
  const result = await verifyArchive(chunked(src.compressed), { maxBytes: 1 << 30 })
  t.equal(result.manifest.seqno, src.manifest.seqno)
  t.equal(result.compressed, true)
  t.equal(result.archiveBytes, src.compressed.length)
  t.equal(result.tarBytes, src.archive.length)
  await t.rejects(verifyArchive(chunked(flip(src.archive, src.archive.length - 3000)), { maxBytes: 1 << 30 }), InvalidArchiveError)
})

t.test('the byte bound: the files, the tar stream and the upload', async (t) => {
  const { dataDir } = workspace(t)
  const total = src.manifest.files.reduce((n, f) => n + f.size, 0)
  await t.rejects(restoreArchive(chunked(src.archive), { dataDir, treeName: 'small', maxBytes: total - 1 }), { code: 'INVALID_ARCHIVE', message: /add up to more than the limit/ })
  // Exactly the files' total is enough (headers have their own allowance).
  await restoreArchive(chunked(src.archive), { dataDir, treeName: 'exact', maxBytes: total })
  t.same(readdirSync(dataDir), ['exact'])
})

t.test('hostile corpus: each refused for its reason, nothing left anywhere', async (t) => {
  const { parent, dataDir } = workspace(t)
  const escape = `strata-escape-${process.pid}`
  const corpus = await hostileCorpus(src, escape)
  t.ok(corpus.length >= 50, `${corpus.length} hostile archives`)
  for (const c of corpus) {
    const error = await restoreArchive(chunked(c.archive), { dataDir, treeName: 'victim' }).then(
      () => undefined,
      (e: unknown) => e,
    )
    t.ok(error instanceof InvalidArchiveError, `${c.name}: InvalidArchiveError (${String(error)})`)
    t.match((error as Error | undefined)?.message, c.reason, `${c.name}: the reason`)
    t.same(readdirSync(dataDir), [], `${c.name}: nothing created, no staging directory left`)
    t.same(readdirSync(parent), ['data'], `${c.name}: nothing written next to the data directory`)
    t.notOk(existsSync(join('/tmp', escape)), `${c.name}: nothing written at an absolute path`)
  }
})

t.test('flipped bytes: refused, or (in padding) restored with identical data', async (t) => {
  const { parent, dataDir } = workspace(t)
  // Offsets: every header field of every entry, BACKUP.json's text, and seeded random ones in
  // the data (each restore fsyncs; a sweep of every byte takes minutes and finds nothing more).
  const seed = testSeed()
  const random = new Prng(seed)
  t.comment(`seed ${seed}`)
  const offsets = new Set<number>()
  for (let block = 0; block < src.archive.length; block += 512) {
    if (src.archive.subarray(block, block + 6).toString('latin1') === 'BACKUP' || src.archive.subarray(block + 257, block + 262).toString('latin1') === 'ustar') {
      for (const field of [0, 100, 108, 124, 136, 148, 156, 157, 257, 263, 345]) offsets.add(block + field)
    }
  }
  const manifestEnd = 512 + encodeBackupManifest(src.manifest).length
  for (let offset = 512; offset < manifestEnd; offset += 11) offsets.add(offset)
  const count = Math.round(200 * testScale())
  for (let i = 0; i < count; i++) offsets.add(random.int(src.archive.length))
  let refused = 0
  let accepted = 0
  for (const offset of [...offsets].sort((a, b) => a - b)) {
    const name = `t${offset}`
    try {
      const result = await restoreArchive(Readable.from([flip(src.archive, offset)]), { dataDir, treeName: name })
      const got = await contents(result.dir)
      t.same(got.entries, src.entries, `flip at ${offset} accepted: data identical`)
      rmSync(result.dir, { recursive: true })
      accepted++
    } catch (error) {
      if (!(error instanceof InvalidArchiveError)) throw error
      refused++
    }
    if (readdirSync(dataDir).length !== 0) t.fail(`flip at ${offset}: something left in the data directory`)
  }
  t.same(readdirSync(parent), ['data'])
  t.ok(refused > accepted, `${offsets.size} flips: ${refused} refused, ${accepted} accepted (padding or bytes no reader uses)`)
})
