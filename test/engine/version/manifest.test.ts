/**
 * MANIFEST files: snapshot + edits round trip through ManifestWriter/readManifest; a torn
 * tail is dropped at every cut; damage before the last record, a missing or malformed
 * snapshot, and non-increasing versionIds are CORRUPTION naming the manifest; a foreign
 * comparator is UNSUPPORTED.
 */
import t, { type Test } from 'tap'

import { isCorruption, isStrataError } from '../../../src/engine/errors.js'
import { applyEdit } from '../../../src/engine/version/compose.js'
import {
  COMPARATOR_NAME,
  ManifestWriter,
  readManifest,
  snapshotEdit,
} from '../../../src/engine/version/manifest.js'
import { emptyEdit, encodeVersionEdit, type VersionEdit } from '../../../src/engine/version/version-edit.js'
import { Version } from '../../../src/engine/version/version.js'
import { MemVfs } from '../../../src/engine/vfs/mem-vfs.js'
import { LogWriter } from '../../../src/engine/wal/log-writer.js'
import { blob, table } from '../../helpers/version-edits.js'

const DIR = '/tree'
const STATE = { treeId: 'tree-1', mergeOperatorName: 'counter', logNumber: 4, nextFileNumber: 30, lastSeqno: 77 }

const version = applyEdit(
  Version.empty(),
  { ...emptyEdit(), addTables: [table(11, 0, 1, 9), table(12, 1, 1, 5), table(13, 1, 6, 9)], addBlobFiles: [blob(20)] },
  6,
)

function delta(versionId: number): VersionEdit {
  return { ...emptyEdit(), versionId, lastSeqno: 100 + versionId, addTables: [table(versionId + 100, 2, versionId * 10, versionId * 10 + 5)] }
}

async function writeManifest(vfs: MemVfs, name: string, records: Buffer[]): Promise<void> {
  await vfs.mkdirp(DIR)
  const log = new LogWriter(await vfs.create(`${DIR}/${name}`), name)
  log.addRecords(records)
  await log.sync()
  await log.close()
}

async function expectCorruption(tt: Test, vfs: MemVfs, name: string, offset?: number): Promise<void> {
  try {
    await readManifest(vfs, DIR, name)
    tt.fail('expected CORRUPTION')
  } catch (err) {
    tt.ok(isCorruption(err), String(err))
    if (isCorruption(err)) {
      tt.equal(err.file, name, 'names the manifest')
      if (offset !== undefined) tt.equal(err.offset, offset)
    }
  }
}

t.test('snapshotEdit holds the whole Version and the tree state', async (tt) => {
  const snapshot = snapshotEdit(version, STATE)
  tt.equal(snapshot.comparatorName, COMPARATOR_NAME)
  tt.equal(snapshot.versionId, 6)
  tt.match(snapshot, { treeId: 'tree-1', mergeOperatorName: 'counter', logNumber: 4, nextFileNumber: 30, lastSeqno: 77 })
  tt.same(snapshot.addTables.map((x) => x.id), [11, 12, 13])
  tt.same(snapshot.addBlobFiles.map((x) => x.id), [20])
  tt.same(snapshot.removeTables, [])
  const rebuilt = applyEdit(Version.empty(), snapshot, 6)
  tt.same(rebuilt.levels, version.levels, 'replaying the snapshot rebuilds the Version')
})

t.test('write then read', async (tt) => {
  const vfs = new MemVfs()
  await vfs.mkdirp(DIR)
  const writer = await ManifestWriter.create(vfs, DIR, 9, snapshotEdit(version, STATE))
  tt.equal(writer.fileName, 'MANIFEST-000009')
  tt.equal(writer.sizeBytes, writer.snapshotBytes)
  for (let v = 7; v < 12; v++) await writer.append(delta(v))
  await writer.close()
  const size = (await vfs.stat(`${DIR}/MANIFEST-000009`)).sizeBytes
  tt.equal(size, writer.sizeBytes)
  const read = await readManifest(vfs, DIR, 'MANIFEST-000009')
  tt.equal(read.validBytes, size)
  tt.same(read.edits, [snapshotEdit(version, STATE), delta(7), delta(8), delta(9), delta(10), delta(11)])
  tt.equal(read.offsets[0], 0)
  tt.equal(read.offsets.length, 6)
  // The manifest survives a crash: everything was synced (the dir entry is the caller's to sync).
  await vfs.syncDir(DIR)
  tt.same((await readManifest(vfs.crashClone(), DIR, 'MANIFEST-000009')).edits.length, 6)
})

t.test('a torn tail is dropped at every cut of the last record', async (tt) => {
  const vfs = new MemVfs()
  const records = [encodeVersionEdit(snapshotEdit(version, STATE)), encodeVersionEdit(delta(7)), encodeVersionEdit(delta(8))]
  await writeManifest(vfs, 'MANIFEST-000001', records)
  const whole = vfs.fileData(`${DIR}/MANIFEST-000001`)
  const lastStart = (await readManifest(vfs, DIR, 'MANIFEST-000001')).offsets[2] as number
  for (let cut = lastStart; cut < whole.length; cut++) {
    vfs.writeFileSyncedForTest(`${DIR}/MANIFEST-000002`, whole.subarray(0, cut))
    const read = await readManifest(vfs, DIR, 'MANIFEST-000002')
    if (read.edits.length !== 2 || read.validBytes !== lastStart) {
      tt.fail(`cut ${cut}: ${read.edits.length} edits, ${read.validBytes} valid bytes`)
      return
    }
  }
  tt.pass(`${whole.length - lastStart} cuts each kept 2 edits`)
})

t.test('flipped bytes before the last record are CORRUPTION', async (tt) => {
  const vfs = new MemVfs()
  const records = [encodeVersionEdit(snapshotEdit(version, STATE)), encodeVersionEdit(delta(7)), encodeVersionEdit(delta(8))]
  await writeManifest(vfs, 'MANIFEST-000001', records)
  const { offsets } = await readManifest(vfs, DIR, 'MANIFEST-000001')
  const lastStart = offsets[2] as number
  for (let offset = 0; offset < lastStart; offset += 7) {
    const copy = new MemVfs()
    copy.writeFileSyncedForTest(`${DIR}/MANIFEST-000001`, vfs.fileData(`${DIR}/MANIFEST-000001`))
    copy.flipByte(`${DIR}/MANIFEST-000001`, offset)
    await expectCorruption(tt, copy, 'MANIFEST-000001')
  }
})

t.test('structural rules on the record sequence', async (tt) => {
  const snapshot = encodeVersionEdit(snapshotEdit(version, STATE))
  const cases: [string, Buffer[], number | undefined][] = [
    ['empty manifest', [], 0],
    ['first record is not a snapshot', [encodeVersionEdit(delta(7))], 0],
    ['snapshot without a tree id', [encodeVersionEdit({ ...snapshotEdit(version, STATE), treeId: undefined } as VersionEdit)], 0],
    ['versionId repeats', [snapshot, encodeVersionEdit(delta(7)), encodeVersionEdit(delta(7))], undefined],
    ['versionId goes back', [snapshot, encodeVersionEdit(delta(5))], undefined],
    ['edit without versionId', [snapshot, encodeVersionEdit({ ...delta(7), versionId: undefined } as VersionEdit)], undefined],
    ['snapshot field after the first record', [snapshot, encodeVersionEdit({ ...delta(7), treeId: 'other' })], undefined],
    ['garbage record', [snapshot, Buffer.from('01ff', 'hex')], undefined],
  ]
  for (const [name, records, offset] of cases) {
    const vfs = new MemVfs()
    await writeManifest(vfs, 'MANIFEST-000003', records)
    await tt.test(name, (t2) => expectCorruption(t2, vfs, 'MANIFEST-000003', offset))
  }
})

t.test('a foreign comparator is UNSUPPORTED', async (tt) => {
  const vfs = new MemVfs()
  const foreign = { ...snapshotEdit(version, STATE), comparatorName: 'leveldb.BytewiseComparator' }
  await writeManifest(vfs, 'MANIFEST-000004', [encodeVersionEdit(foreign)])
  await tt.rejects(readManifest(vfs, DIR, 'MANIFEST-000004'), { code: 'UNSUPPORTED', file: 'MANIFEST-000004' })
})

t.test('a missing manifest is NOT_FOUND', async (tt) => {
  const vfs = new MemVfs()
  await vfs.mkdirp(DIR)
  try {
    await readManifest(vfs, DIR, 'MANIFEST-000004')
    tt.fail('expected NOT_FOUND')
  } catch (err) {
    tt.ok(isStrataError(err, 'NOT_FOUND'), String(err))
  }
})
