/**
 * applyEdit and composeEdits: each applyEdit assertion fires, moves and ordering work, the
 * base is untouched; composeEdits cancels add-then-remove and keeps the last scalars; and the
 * law "applying edits one by one equals applying their composition", on seeded random
 * sequences of flushes, compactions, moves and blob-file changes.
 */
import t from 'tap'

import { AssertionError } from '../../../src/engine/base/assert.js'
import { LEVEL_COUNT } from '../../../src/engine/options.js'
import { applyEdit, composeEdits } from '../../../src/engine/version/compose.js'
import type { TableMeta } from '../../../src/engine/version/file-metadata.js'
import { emptyEdit, type VersionEdit } from '../../../src/engine/version/version-edit.js'
import { Version } from '../../../src/engine/version/version.js'
import { Prng, testSeed } from '../../helpers/prng.js'
import { blob, describeFiles, EditSequence, table } from '../../helpers/version-edits.js'

function edit(parts: Partial<VersionEdit>): VersionEdit {
  return { ...emptyEdit(), ...parts }
}

const ids = (tables: readonly TableMeta[]): number[] => tables.map((x) => x.id)

// Base: L0 {1, 2}, L1 [10,20] [30,40], blob 50.
const base = applyEdit(
  Version.empty(),
  edit({
    addTables: [
      table(1, 0, 0, 100, { largestSeqno: 10 }), table(2, 0, 50, 60, { largestSeqno: 20 }),
      table(3, 1, 10, 20), table(4, 1, 30, 40),
    ],
    addBlobFiles: [blob(50)],
  }),
  1,
)

t.test('applyEdit builds ordered levels and leaves the base alone', async (tt) => {
  tt.same(ids(base.levels[0]!), [2, 1], 'L0 newest first')
  tt.same(ids(base.levels[1]!), [3, 4])
  const next = applyEdit(base, edit({
    addTables: [table(5, 1, 21, 29), table(6, 0, 0, 1, { smallestSeqno: 0, largestSeqno: 20 }), table(7, 0, 0, 1, { smallestSeqno: 0, largestSeqno: 5 })],
    removeTables: [{ level: 0, id: 1 }],
    addBlobFiles: [blob(51)],
    removeBlobFiles: [50],
  }), 2)
  tt.equal(next.id, 2)
  tt.same(ids(next.levels[0]!), [6, 2, 7], 'largestSeqno desc, then id desc')
  tt.same(ids(next.levels[1]!), [3, 5, 4], 'sorted by smallest key')
  tt.same(next.blobFiles.map((b) => b.id), [51])
  tt.same(ids(base.levels[0]!), [2, 1], 'base unchanged')
  tt.same(base.blobFiles.map((b) => b.id), [50])
  tt.equal(next.levels[1]![0], base.levels[1]![0], 'metadata shared, not copied')
})

t.test('a move is remove + add of the same id', async (tt) => {
  const moved = applyEdit(base, edit({ removeTables: [{ level: 1, id: 4 }], addTables: [table(4, 2, 30, 40)] }), 2)
  tt.same(ids(moved.levels[1]!), [3])
  tt.same(ids(moved.levels[2]!), [4])
})

t.test('each applyEdit assertion fires', async (tt) => {
  const cases: [string, VersionEdit, number?][] = [
    ['removed table missing', edit({ removeTables: [{ level: 1, id: 99 }] })],
    ['removed table at another level', edit({ removeTables: [{ level: 2, id: 3 }] })],
    ['removed twice in one edit', edit({ removeTables: [{ level: 1, id: 3 }, { level: 1, id: 3 }] })],
    ['removed level out of range', edit({ removeTables: [{ level: LEVEL_COUNT, id: 3 }] })],
    ['added id already present', edit({ addTables: [table(3, 2, 500, 600)] })],
    ['added id twice', edit({ addTables: [table(8, 2, 500, 600), table(8, 3, 500, 600)] })],
    ['added level out of range', edit({ addTables: [table(8, LEVEL_COUNT, 500, 600)] })],
    ['L1 overlap', edit({ addTables: [table(8, 1, 15, 25)] })],
    ['L1 overlap by containment', edit({ addTables: [table(8, 1, 0, 100)] })],
    ['L1 same smallest key', edit({ addTables: [table(8, 1, 10, 10)] })],
    ['blob file missing', edit({ removeBlobFiles: [77] })],
    ['blob file already present', edit({ addBlobFiles: [blob(50)] })],
    ['version id does not grow', edit({}), 1],
  ]
  for (const [name, bad, newId] of cases) {
    tt.throws(() => applyEdit(base, bad, newId ?? 2), AssertionError, name)
  }
  tt.doesNotThrow(() => applyEdit(base, edit({ addTables: [table(8, 1, 20, 29)] }), 2), 'sharing a boundary key is allowed')
})

t.test('composeEdits: cancellation, moves, scalars', async (tt) => {
  const composed = composeEdits([
    edit({ versionId: 2, lastSeqno: 10, logNumber: 3, addTables: [table(10, 0, 1, 2)], addBlobFiles: [blob(60)] }),
    edit({ versionId: 3, lastSeqno: 20, removeTables: [{ level: 0, id: 10 }], addTables: [table(10, 1, 1, 2)] }),
    edit({ versionId: 4, removeTables: [{ level: 1, id: 3 }], addTables: [table(3, 2, 10, 20)], removeBlobFiles: [60] }),
    edit({ versionId: 5, removeTables: [{ level: 2, id: 3 }, { level: 0, id: 1 }], addTables: [table(3, 3, 10, 20)] }),
    edit({ versionId: 6, nextFileNumber: 70, addTables: [table(11, 0, 5, 6)] }),
    edit({ versionId: 7, removeTables: [{ level: 0, id: 11 }] }),
  ])
  tt.equal(composed.versionId, 7)
  tt.equal(composed.lastSeqno, 20)
  tt.equal(composed.logNumber, 3)
  tt.equal(composed.nextFileNumber, 70)
  tt.same(composed.removeTables, [{ level: 1, id: 3 }, { level: 0, id: 1 }])
  tt.same(composed.addTables.map((x) => [x.id, x.level]), [[10, 1], [3, 3]])
  tt.same(composed.addBlobFiles, [], 'added then removed blob file cancels')
  tt.same(composed.removeBlobFiles, [])
  tt.same(composeEdits([]), emptyEdit())
  tt.throws(() => composeEdits([edit({ addTables: [table(9, 0, 1, 2)] }), edit({ removeTables: [{ level: 1, id: 9 }] })]),
    AssertionError, 'removing an added table from another level')
  tt.throws(() => composeEdits([edit({ addTables: [table(9, 0, 1, 2)] }), edit({ addTables: [table(9, 0, 1, 2)] })]),
    AssertionError, 'adding one id twice')
})

t.test('property: applying edits one by one equals applying their composition', async (tt) => {
  const seed = testSeed()
  tt.comment(`seed ${seed} (replay with STRATA_SEED=${seed})`)
  const rng = new Prng(seed)
  const seen = { cancelled: 0, removed: 0, deepTables: 0, blobFiles: 0 }
  for (let run = 0; run < 40; run++) {
    // Warm up a random starting Version, then take a window of edits from it.
    const sequence = new EditSequence(rng, base)
    for (let i = rng.int(30); i > 0; i--) sequence.next()
    const start = sequence.version
    const edits: VersionEdit[] = []
    for (let i = rng.range(1, 25); i > 0; i--) edits.push(sequence.next())
    const composed = composeEdits(edits)
    seen.cancelled += edits.reduce((n, e) => n + e.addTables.length, 0) - composed.addTables.length
    seen.removed += composed.removeTables.length
    seen.deepTables += sequence.version.levels.slice(2).reduce((n, level) => n + level.length, 0)
    seen.blobFiles += sequence.version.blobFiles.length
    const applied = applyEdit(start, composed, sequence.version.id)
    if (JSON.stringify(describeFiles(applied)) !== JSON.stringify(describeFiles(sequence.version))) {
      tt.same(describeFiles(applied), describeFiles(sequence.version), `run ${run}, seed ${seed}`)
      return
    }
    const lastSeqno = edits.map((e) => e.lastSeqno).filter((s) => s !== undefined).at(-1)
    tt.equal(composed.lastSeqno, lastSeqno, 'last lastSeqno wins')
    // Composition is associative: split the window anywhere.
    const cut = rng.int(edits.length + 1)
    const halves = composeEdits([composeEdits(edits.slice(0, cut)), composeEdits(edits.slice(cut))])
    tt.same(describeFiles(applyEdit(start, halves, sequence.version.id)), describeFiles(sequence.version))
  }
  tt.comment(`coverage of the generator: ${JSON.stringify(seen)}`)
  tt.ok(seen.cancelled > 0 && seen.removed > 0, 'compositions cancelled adds and kept removes')
  tt.ok(seen.deepTables > 0 && seen.blobFiles > 0, 'tables reached L2+, blob files were added')
})
