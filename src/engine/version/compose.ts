/**
 * Pure Version arithmetic (STYLE rule 9; pebble BulkVersionEdit, mini-lsm
 * apply_compaction_result): applyEdit builds the next Version from a base and an edit,
 * composeEdits folds a run of edits into one equivalent edit (replication deltas).
 *
 * Semantics of one edit, applied to a base Version:
 *   1. every removeTables entry removes a table that exists at that level of the base;
 *   2. every addTables entry adds a table whose id is not in what remains (so remove + add of
 *      one id is a move between levels);
 *   3. the same for blob files (remove, then add);
 *   4. the scalars (lastSeqno, logNumber, ...) do not touch the Version; the VersionSet keeps them.
 *
 * Law: for edits e1..en valid in sequence from base B,
 *   applyEdit(B, composeEdits([e1..en]), id) has the same files as applying e1..en one by one.
 */
import { assert } from '../base/assert.js'
import { LEVEL_COUNT } from '../options.js'
import type { BlobMeta, TableMeta } from './file-metadata.js'
import { emptyEdit, type VersionEdit } from './version-edit.js'
import { compareBySmallestKey, compareL0, Version } from './version.js'

function removeTables(levels: TableMeta[][], edit: VersionEdit): void {
  const removed = new Set<number>()
  for (const { level, id } of edit.removeTables) {
    assert(level >= 0 && level < LEVEL_COUNT, `removed table ${id} has level ${level} out of range`)
    assert(!removed.has(id), `table ${id} removed twice in one edit`)
    removed.add(id)
    const tables = levels[level] as TableMeta[]
    const index = tables.findIndex((table) => table.id === id)
    assert(index >= 0, `removed table ${id} does not exist at L${level}`)
    tables.splice(index, 1)
  }
}

function addTables(levels: TableMeta[][], edit: VersionEdit): void {
  const present = new Set<number>()
  for (const tables of levels) for (const table of tables) present.add(table.id)
  for (const table of edit.addTables) {
    assert(table.level >= 0 && table.level < LEVEL_COUNT, `added table ${table.id} level out of range`)
    assert(!present.has(table.id), `added table ${table.id} is already present`)
    present.add(table.id)
    ;(levels[table.level] as TableMeta[]).push(table)
  }
}

function applyBlobFiles(base: readonly BlobMeta[], edit: VersionEdit): BlobMeta[] {
  const byId = new Map<number, BlobMeta>()
  for (const blob of base) byId.set(blob.id, blob)
  for (const id of edit.removeBlobFiles) {
    assert(byId.has(id), `removed blob file ${id} does not exist`)
    byId.delete(id)
  }
  for (const blob of edit.addBlobFiles) {
    assert(!byId.has(blob.id), `added blob file ${blob.id} is already present`)
    byId.set(blob.id, blob)
  }
  return [...byId.values()].sort((a, b) => a.id - b.id)
}

/**
 * The Version `edit` makes of `base`, with id `newId`. Throws AssertionError (a bug in the
 * caller, or a manifest that does not apply) when a removed table is missing, an added id is
 * already present, or the result breaks a Version invariant (e.g. L1+ overlap). Pure: `base`
 * is not changed; table metadata objects are shared.
 */
export function applyEdit(base: Version, edit: VersionEdit, newId: number): Version {
  assert(Number.isSafeInteger(newId), 'version id is a safe integer')
  assert(newId > base.id, `version ids grow: ${newId} after ${base.id}`)
  const levels = base.levels.map((tables) => [...tables])
  removeTables(levels, edit)
  addTables(levels, edit)
  levels[0]?.sort(compareL0)
  for (let level = 1; level < LEVEL_COUNT; level++) levels[level]?.sort(compareBySmallestKey)
  const version = new Version(newId, levels, applyBlobFiles(base.blobFiles, edit))
  version.checkInvariants()
  return version
}

function composeScalars(into: VersionEdit, edit: VersionEdit): void {
  if (edit.versionId !== undefined) into.versionId = edit.versionId
  if (edit.lastSeqno !== undefined) into.lastSeqno = edit.lastSeqno
  if (edit.nextFileNumber !== undefined) into.nextFileNumber = edit.nextFileNumber
  if (edit.logNumber !== undefined) into.logNumber = edit.logNumber
  if (edit.treeId !== undefined) into.treeId = edit.treeId
  if (edit.mergeOperatorName !== undefined) into.mergeOperatorName = edit.mergeOperatorName
  if (edit.comparatorName !== undefined) into.comparatorName = edit.comparatorName
  if (edit.replicatedVersionId !== undefined) into.replicatedVersionId = edit.replicatedVersionId
}

/** Key of a removal in the composed edit: tables are removed at a level. */
function removalKey(level: number, id: number): string {
  return `${level}:${id}`
}

/**
 * One edit equivalent to applying `edits` in order: an add followed by a remove of the same
 * table cancels; a table moved several times becomes one remove (from its first level) plus
 * one add (at its last); scalars take the last value given. Pure; the inputs are not changed.
 */
export function composeEdits(edits: readonly VersionEdit[]): VersionEdit {
  const composed = emptyEdit()
  const addedTables = new Map<number, TableMeta>()
  const removedTables = new Map<string, { level: number; id: number }>()
  const addedBlobs = new Map<number, BlobMeta>()
  const removedBlobs = new Set<number>()
  for (const edit of edits) {
    composeScalars(composed, edit)
    for (const removal of edit.removeTables) {
      const added = addedTables.get(removal.id)
      if (added === undefined) {
        assert(!removedTables.has(removalKey(removal.level, removal.id)), `table ${removal.id} removed twice`)
        removedTables.set(removalKey(removal.level, removal.id), { level: removal.level, id: removal.id })
        continue
      }
      assert(added.level === removal.level, `table ${removal.id} removed from another level than it was added`)
      addedTables.delete(removal.id)
    }
    for (const table of edit.addTables) {
      assert(!addedTables.has(table.id), `table ${table.id} added twice`)
      addedTables.set(table.id, table)
    }
    for (const id of edit.removeBlobFiles) {
      if (addedBlobs.delete(id)) continue
      assert(!removedBlobs.has(id), `blob file ${id} removed twice`)
      removedBlobs.add(id)
    }
    for (const blob of edit.addBlobFiles) {
      assert(!addedBlobs.has(blob.id), `blob file ${blob.id} added twice`)
      addedBlobs.set(blob.id, blob)
    }
  }
  composed.removeTables = [...removedTables.values()]
  composed.addTables = [...addedTables.values()]
  composed.removeBlobFiles = [...removedBlobs]
  composed.addBlobFiles = [...addedBlobs.values()]
  return composed
}
