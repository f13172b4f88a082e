/**
 * VersionSet: create -> many logAndApply (rolling the manifest over often, with a tiny
 * threshold) -> recover equals; serialization of concurrent installs; a rejected (buggy) edit
 * and failed I/O leave the in-memory Version unchanged and the tree recoverable; file-number
 * recovery from the directory listing; close.
 */
import t, { type Test } from 'tap'

import { AssertionError } from '../../../src/engine/base/assert.js'
import { isStrataError } from '../../../src/engine/errors.js'
import { emptyEdit, encodeVersionEdit, type VersionEdit } from '../../../src/engine/version/version-edit.js'
import { VersionSet } from '../../../src/engine/version/version-set.js'
import type { Version } from '../../../src/engine/version/version.js'
import { FaultVfs } from '../../../src/engine/vfs/fault-vfs.js'
import { MemVfs } from '../../../src/engine/vfs/mem-vfs.js'
import type { Vfs } from '../../../src/engine/vfs/vfs.js'
import { LogWriter } from '../../../src/engine/wal/log-writer.js'
import { Prng, testSeed } from '../../helpers/prng.js'
import { describeVersion, EditSequence, table } from '../../helpers/version-edits.js'

const DIR = '/trees/a'
const INIT = { treeId: 'tree-a', mergeOperatorName: 'counter' }

interface Picture {
  version: ReturnType<typeof describeVersion>
  lastSeqno: number
  logNumber: number
  treeId: string
  mergeOperatorName: string | null
}

function picture(set: VersionSet): Picture {
  return {
    version: describeVersion(set.current),
    lastSeqno: set.lastSeqno,
    logNumber: set.logNumber,
    treeId: set.treeId,
    mergeOperatorName: set.mergeOperatorName,
  }
}

async function manifests(vfs: Vfs): Promise<string[]> {
  return (await vfs.list(DIR)).filter((name) => name.startsWith('MANIFEST-'))
}

t.test('create writes MANIFEST-000001 and CURRENT', async (tt) => {
  const vfs = new MemVfs()
  const set = await VersionSet.create(vfs, DIR, INIT)
  tt.equal(set.versionId, 1)
  tt.equal(set.current.tableCount(), 0)
  tt.equal(set.manifestName, 'MANIFEST-000001')
  tt.equal(set.nextFileNumber, 2)
  tt.equal(set.lastSeqno, 0)
  tt.equal(set.logNumber, 0)
  tt.equal(set.treeId, 'tree-a')
  tt.equal(set.mergeOperatorName, 'counter')
  tt.same(await vfs.list(DIR), ['CURRENT', 'MANIFEST-000001'])
  const recovered = await VersionSet.recover(vfs.crashClone(), DIR)
  tt.same(picture(recovered), picture(set), 'durable when create resolves')
  tt.equal(recovered.versionId, 1)
  tt.equal(recovered.nextFileNumber, 2)
  await set.close()
  await tt.rejects(VersionSet.create(vfs, DIR, INIT), { code: 'EXISTS' })
  const other = new MemVfs()
  await VersionSet.create(other, DIR, { treeId: 't', mergeOperatorName: null })
  tt.equal((await VersionSet.recover(other, DIR)).mergeOperatorName, null, 'no merge operator round trips')
})

t.test('many edits with rollovers, then recover equals', async (tt) => {
  const seed = testSeed()
  tt.comment(`seed ${seed} (replay with STRATA_SEED=${seed})`)
  const vfs = new MemVfs()
  const set = await VersionSet.create(vfs, DIR, INIT, { rolloverBytes: 600 })
  const installed: [number, VersionEdit][] = []
  set.onInstall = (version, edit) => installed.push([version.id, edit])
  const sequence = new EditSequence(new Prng(seed), set.current, () => set.newFileNumber())
  const manifestNames = new Set<string>([set.manifestName])
  for (let i = 0; i < 300; i++) {
    const edit = sequence.next()
    const version = await set.logAndApply(edit)
    tt.equal(version, set.current)
    manifestNames.add(set.manifestName)
    if (i % 60 === 59) {
      const recovered = await VersionSet.recover(vfs.crashClone(), DIR)
      tt.same(picture(recovered), picture(set), `recovered after ${i + 1} edits`)
      tt.same(await manifests(vfs), [set.manifestName], 'only the live manifest remains')
    }
  }
  tt.equal(set.versionId, 301)
  tt.same(installed.map(([id]) => id), Array.from({ length: 300 }, (_, i) => i + 2), 'onInstall once per edit, in order')
  tt.ok(installed.every(([id, edit]) => edit.versionId === id), 'the logged edit carries its versionId')
  tt.ok(manifestNames.size > 5, `rolled over ${manifestNames.size - 1} times`)
  tt.same(describeVersion(set.current).levels, describeVersion(sequence.version).levels, 'matches the model')
  const nextFileNumber = set.nextFileNumber
  await set.close()
  const before = await vfs.list(DIR)
  const recovered = await VersionSet.recover(vfs, DIR, { rolloverBytes: 600 })
  tt.same(await vfs.list(DIR), before, 'recover writes nothing')
  tt.same(picture(recovered), picture(set))
  tt.equal(recovered.versionId, 301)
  tt.ok(recovered.nextFileNumber >= nextFileNumber, 'file numbers are never reused')
  // The first install after recovery starts a fresh manifest and removes the old one.
  await recovered.logAndApply(sequence.next())
  tt.not(recovered.manifestName, set.manifestName)
  tt.same(await manifests(vfs), [recovered.manifestName])
  tt.same(picture(await VersionSet.recover(vfs.crashClone(), DIR)), picture(recovered))
})

t.test('concurrent logAndApply calls are serialized', async (tt) => {
  const vfs = new MemVfs()
  const set = await VersionSet.create(vfs, DIR, INIT, { rolloverBytes: 300 })
  const edits = Array.from({ length: 30 }, (_, i) => ({
    ...emptyEdit(),
    lastSeqno: i + 1,
    addTables: [table(set.newFileNumber(), 1, i * 10, i * 10 + 5)],
  }))
  const versions = await Promise.all(edits.map((edit) => set.logAndApply(edit)))
  tt.same(versions.map((v) => v.id), Array.from({ length: 30 }, (_, i) => i + 2))
  tt.equal(set.current.levels[1]!.length, 30)
  tt.equal(set.lastSeqno, 30)
  tt.same(picture(await VersionSet.recover(vfs.crashClone(), DIR)), picture(set))
})

t.test('a buggy edit is rejected before anything is written', async (tt) => {
  const vfs = new MemVfs()
  const set = await VersionSet.create(vfs, DIR, INIT)
  await set.logAndApply({ ...emptyEdit(), lastSeqno: 10, logNumber: 5, addTables: [table(set.newFileNumber(), 1, 1, 9)] })
  const before = picture(set)
  const sizeBytes = (await vfs.stat(`${DIR}/${set.manifestName}`)).sizeBytes
  const bad: [string, VersionEdit][] = [
    ['overlap in L1', { ...emptyEdit(), addTables: [table(50, 1, 5, 20)] }],
    ['remove a missing table', { ...emptyEdit(), removeTables: [{ level: 1, id: 99 }] }],
    ['lastSeqno goes back', { ...emptyEdit(), lastSeqno: 9 }],
    ['logNumber goes back', { ...emptyEdit(), logNumber: 4 }],
    ['snapshot field', { ...emptyEdit(), treeId: 'other' }],
    ['merge operator change', { ...emptyEdit(), mergeOperatorName: null }],
  ]
  for (const [name, edit] of bad) await tt.rejects(set.logAndApply(edit), AssertionError, name)
  tt.same(picture(set), before, 'nothing installed')
  tt.equal((await vfs.stat(`${DIR}/${set.manifestName}`)).sizeBytes, sizeBytes, 'nothing written')
  await set.logAndApply({ ...emptyEdit(), lastSeqno: 11 })
  tt.equal(set.versionId, 3, 'the queue keeps going after rejections')
})

/** A VersionSet whose next install rolls the manifest over (recovery always starts a new one). */
async function setBeforeRollover(faults: FaultVfs): Promise<VersionSet> {
  await (await VersionSet.create(faults, DIR, INIT)).close()
  return VersionSet.recover(faults, DIR)
}

async function failingInstall(tt: Test, rule: Parameters<FaultVfs['injectNth']>[0], rollover: boolean): Promise<void> {
  const faults = new FaultVfs(new MemVfs())
  let set = await VersionSet.create(faults, DIR, INIT)
  for (let i = 1; i <= 3; i++) await set.logAndApply({ ...emptyEdit(), lastSeqno: i, addTables: [table(set.newFileNumber(), 0, 1, 2)] })
  if (rollover) {
    await set.close()
    set = await VersionSet.recover(faults, DIR)
  }
  const manifestBefore = set.manifestName
  const before = picture(set)
  faults.injectNth(rule)
  const edit = { ...emptyEdit(), lastSeqno: 9, addTables: [table(set.newFileNumber(), 0, 1, 2)] }
  await tt.rejects(set.logAndApply(edit), { code: 'IO' }, 'the I/O error is rethrown')
  tt.same(picture(set), before, 'the in-memory Version is unchanged')
  faults.clear()
  await set.logAndApply(edit)
  tt.equal(set.current.tableCount(), 4, 'the retried edit installs')
  tt.not(set.manifestName, manifestBefore, 'on a fresh manifest')
  tt.same(await manifests(faults), [set.manifestName], 'orphan and old manifests removed')
  tt.same(picture(await VersionSet.recover(faults, DIR)), picture(set), 'recovers what is installed')
  await set.close()
}

t.test('I/O failures leave the Version unchanged; the next install rolls over', async (tt) => {
  const manifest = /MANIFEST-/
  await tt.test('append fails', (t2) => failingInstall(t2, { op: 'append', nth: 1, path: manifest }, false))
  await tt.test('torn append', (t2) => failingInstall(t2, { op: 'append', nth: 1, path: manifest, partialAppend: true }, false))
  await tt.test('manifest sync fails', (t2) => failingInstall(t2, { op: 'sync', nth: 1, path: manifest, errno: 'ENOSPC' }, false))
  await tt.test('rollover: create fails', (t2) => failingInstall(t2, { op: 'create', nth: 1, path: manifest }, true))
  await tt.test('rollover: snapshot append fails', (t2) => failingInstall(t2, { op: 'append', nth: 1, path: manifest }, true))
  await tt.test('rollover: snapshot sync fails', (t2) => failingInstall(t2, { op: 'sync', nth: 1, path: manifest }, true))
  await tt.test('rollover: CURRENT temp write fails', (t2) => failingInstall(t2, { op: 'create', nth: 1, path: /CURRENT/ }, true))
  await tt.test('rollover: CURRENT rename fails', (t2) => failingInstall(t2, { op: 'rename', nth: 1 }, true))
  await tt.test('rollover: CURRENT dir sync fails', (t2) => failingInstall(t2, { op: 'syncDir', nth: 1 }, true))
})

t.test('a failed CURRENT switch keeps every candidate manifest until the next switch', async (tt) => {
  const faults = new FaultVfs(new MemVfs())
  const set = await setBeforeRollover(faults)
  faults.injectNth({ op: 'syncDir', nth: 1 }) // the rename happened: CURRENT may name the new one
  await tt.rejects(set.logAndApply({ ...emptyEdit(), lastSeqno: 2 }), { code: 'IO' })
  const candidates = await manifests(faults)
  tt.equal(candidates.length, 2)
  await set.close()
  tt.same(await manifests(faults), candidates, 'close removes neither candidate')
  const recovered = await VersionSet.recover(faults, DIR)
  tt.ok([1, 2].includes(recovered.versionId), 'old or new')
})

t.test('file numbers: recovery starts above everything logged or listed', async (tt) => {
  const vfs = new MemVfs()
  const set = await VersionSet.create(vfs, DIR, INIT)
  tt.equal(set.newFileNumber(), 2)
  tt.equal(set.newFileNumber(), 3)
  tt.equal((await VersionSet.recover(vfs.crashClone(), DIR)).nextFileNumber, 2, 'unlogged numbers with no file may be reused')
  vfs.writeFileSyncedForTest(`${DIR}/000003.log`, Buffer.from('wal'))
  tt.equal((await VersionSet.recover(vfs, DIR)).nextFileNumber, 4, 'a file on disk is never reused')
  vfs.writeFileSyncedForTest(`${DIR}/000040.sst.tmp`, Buffer.from('x'))
  vfs.writeFileSyncedForTest(`${DIR}/README`, Buffer.from('x'))
  tt.equal((await VersionSet.recover(vfs, DIR)).nextFileNumber, 4, 'temp and foreign names do not count')
  await set.logAndApply({ ...emptyEdit(), nextFileNumber: 20 })
  tt.equal(set.nextFileNumber, 20)
  tt.equal((await VersionSet.recover(vfs, DIR)).nextFileNumber, 20, 'logged nextFileNumber')
  await set.logAndApply({ ...emptyEdit(), addTables: [table(70, 2, 1, 2)] })
  tt.equal(set.nextFileNumber, 71, 'an added table id moves the counter past it (replicated files)')
  tt.equal((await VersionSet.recover(vfs, DIR)).nextFileNumber, 71)
})

t.test('recover errors', async (tt) => {
  const vfs = new MemVfs()
  await vfs.mkdirp(DIR)
  await tt.rejects(VersionSet.recover(vfs, DIR), { code: 'NOT_FOUND' })
  vfs.writeFileSyncedForTest(`${DIR}/CURRENT`, Buffer.from('MANIFEST-000001'))
  await tt.rejects(VersionSet.recover(vfs, DIR), { code: 'CORRUPTION', file: 'CURRENT', offset: 0 })
  vfs.writeFileSyncedForTest(`${DIR}/CURRENT`, Buffer.from('MANIFEST-000001\n'))
  await tt.rejects(VersionSet.recover(vfs, DIR), { code: 'NOT_FOUND' }, 'CURRENT names a missing manifest')
})

t.test('close', async (tt) => {
  const vfs = new MemVfs()
  const set = await VersionSet.create(vfs, DIR, INIT)
  const pending = set.logAndApply({ ...emptyEdit(), lastSeqno: 5 })
  await set.close()
  tt.equal((await pending).id, 2, 'queued installs finish before close')
  await tt.rejects(set.logAndApply(emptyEdit()), { code: 'CLOSED' })
  await set.close()
  tt.ok(isStrataError(await set.logAndApply(emptyEdit()).catch((e: unknown) => e), 'CLOSED'))
  tt.equal((await VersionSet.recover(vfs, DIR)).lastSeqno, 5)
})

t.test('recovered Version is usable by Version queries', async (tt) => {
  const vfs = new MemVfs()
  const set = await VersionSet.create(vfs, DIR, INIT)
  await set.logAndApply({ ...emptyEdit(), addTables: [table(set.newFileNumber(), 1, 10, 20), table(set.newFileNumber(), 1, 20, 30)] })
  const recovered: Version = (await VersionSet.recover(vfs, DIR)).current
  recovered.checkInvariants()
  tt.same(recovered.findTableForKey(1, Buffer.from([0, 0, 0, 20])).map((x) => x.id), [2, 3])
})

t.test('a manifest edit that does not apply is CORRUPTION at its offset', async (tt) => {
  const vfs = new MemVfs()
  const set = await VersionSet.create(vfs, DIR, INIT)
  await set.close()
  // Append (validly framed and checksummed) an edit removing a table that does not exist.
  const name = set.manifestName
  const log = new LogWriter(await vfs.openAppendable(`${DIR}/${name}`), name)
  const offset = log.sizeBytes
  log.addRecord(encodeVersionEdit({ ...emptyEdit(), versionId: 2, removeTables: [{ level: 1, id: 42 }] }))
  await log.sync()
  await log.close()
  await tt.rejects(VersionSet.recover(vfs, DIR), { code: 'CORRUPTION', file: name, offset })
})

t.test('create fails cleanly when CURRENT cannot be written', async (tt) => {
  const faults = new FaultVfs(new MemVfs())
  faults.injectNth({ op: 'rename', nth: 1 })
  await tt.rejects(VersionSet.create(faults, DIR, INIT), { code: 'IO' })
  await tt.rejects(VersionSet.recover(faults, DIR), { code: 'NOT_FOUND' }, 'no tree was published')
  faults.clear()
  const set = await VersionSet.create(faults, DIR, INIT)
  tt.equal(set.versionId, 1, 'a retry creates the tree')
})
