/**
 * Corruption tests (leveldb db/corruption_test.cc): damaged bytes on disk give a StrataError
 * CORRUPTION naming the damaged file's base name (and an offset for WALs and tables), at open
 * or at the read that touches the damaged block, and NEVER a wrong value: every key is read
 * back and is either exactly right or a CORRUPTION throw. A torn WAL tail is dropped silently.
 *
 * The tree is built on a MemVfs with several tables (one from a compaction to the last level,
 * one level-0 table with range tombstones and merges), a multi-record manifest and a WAL left
 * by a clean close (close syncs the WAL and does not flush it). Damage is applied to a copy.
 *
 * Layout facts used here (docs/format/sstable.md, docs/format/wal.md):
 * - .sst: 32-byte header (magic, version u32 at 8, flags u32 at 12, salt), data blocks from
 *   offset 32 up to the first meta block, 64-byte footer: index handle (u64 offset, u32 size)
 *   at 0, properties at 12, filter at 24, range-del at 36, version u32 at 48, crc u32 at 52,
 *   magic at 56.
 * - .log and MANIFEST: 32 KiB blocks of chunks | crc u32 | length u16 | type u8 | payload |.
 *
 *   STRATA_SEED=<n> replays the random flips; STRATA_TEST_SCALE=<k> multiplies their count.
 */
import t, { type Test } from 'tap'

import { MemVfs, StrataError, Tree, type TreeOptions } from '../../../src/engine/index.js'
import { crc32c, maskCrc } from '../../../src/engine/base/crc32c.js'
import { caught, describeError, listFilesDeep, processCrashCopy } from '../../helpers/crash-tools.js'
import { Prng, testScale, testSeed } from '../../helpers/prng.js'

const DIR = '/db'
const BASE_OPTIONS: TreeOptions = { mergeOperator: 'append', blockBytes: 256, sync: 'always' }
/** Random single-byte flips at CI size. */
const RANDOM_FLIPS_AT_CI_SIZE = 300
const LOG_BLOCK_BYTES = 32_768
const LOG_HEADER_BYTES = 7
const TABLE_HEADER_BYTES = 32
const TABLE_FOOTER_BYTES = 64

type Expected = Map<string, string>

interface Built {
  mem: MemVfs
  expected: Expected
  /** Tables written by the major compaction (last level). */
  bottomTables: string[]
  /** The level-0 table flushed after the compaction. */
  level0Table: string
  wal: string
  manifest: string
  /** Keys of the WAL's records, in record order (one put per record). */
  walKeys: string[]
  /** expected, minus the effect of the WAL's last record. */
  expectedWithoutLastWalRecord: Expected
}

function key(i: number): string {
  return `key${String(i).padStart(3, '0')}`
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}

async function filesOfType(mem: MemVfs, suffix: string): Promise<string[]> {
  return (await mem.list(DIR)).filter((n) => n.endsWith(suffix) || (suffix === 'MANIFEST' && n.startsWith('MANIFEST-')))
}

/** Builds the tree described in the file comment and closes it. */
async function buildTree(compression: 'none' | 'zstd'): Promise<Built> {
  const mem = new MemVfs()
  const expected: Expected = new Map()
  const tree = await Tree.open(DIR, { ...BASE_OPTIONS, compression, vfs: mem })
  for (let i = 0; i < 150; i += 10) {
    const batch = tree.batch()
    for (let j = i; j < i + 10; j++) {
      const value = `v1-${j}-${'x'.repeat(20 + (j % 17))}`
      batch.put(key(j), value)
      expected.set(key(j), value)
    }
    await batch.write()
  }
  await tree.flush()
  await tree.compact()
  const bottomTables = await filesOfType(mem, '.sst')
  for (let i = 0; i < 150; i += 3) {
    await tree.put(key(i), `v2-${i}`)
    expected.set(key(i), `v2-${i}`)
  }
  await tree.deleteRange(key(100), key(110))
  for (let i = 100; i < 110; i++) expected.delete(key(i))
  for (let i = 20; i < 30; i++) {
    await tree.merge(key(i), `+m${i}`)
    expected.set(key(i), (expected.get(key(i)) ?? '') + `+m${i}`)
  }
  await tree.flush()
  const level0Table = (await filesOfType(mem, '.sst')).find((n) => !bottomTables.includes(n)) as string
  const walKeys: string[] = []
  let expectedWithoutLastWalRecord: Expected = new Map(expected)
  for (let i = 130; i < 170; i++) {
    expectedWithoutLastWalRecord = new Map(expected)
    await tree.put(key(i), `v3-${i}`)
    expected.set(key(i), `v3-${i}`)
    walKeys.push(key(i))
  }
  await tree.close()
  // Files a compaction made obsolete are removed only after a later manifest record (tree.ts
  // `deferred`): keep just the tables that are still there at the end.
  const finalTables = await filesOfType(mem, '.sst')
  bottomTables.splice(0, bottomTables.length, ...bottomTables.filter((n) => finalTables.includes(n)))
  const wals = await filesOfType(mem, '.log')
  const manifests = await filesOfType(mem, 'MANIFEST')
  return {
    mem,
    expected,
    bottomTables,
    level0Table,
    wal: wals[wals.length - 1] as string,
    manifest: manifests[0] as string,
    walKeys,
    expectedWithoutLastWalRecord,
  }
}

/** A fresh copy of the built files (the tree is never opened on the original). */
function copyOf(built: Built): Promise<MemVfs> {
  return processCrashCopy(built.mem, DIR)
}

interface LogChunk {
  offset: number
  length: number
  type: number
}

/** The chunks of a log-framed file (no verification: the file is known good). */
function logChunks(data: Buffer): LogChunk[] {
  const chunks: LogChunk[] = []
  let position = 0
  while (position + LOG_HEADER_BYTES <= data.length) {
    const remaining = LOG_BLOCK_BYTES - (position % LOG_BLOCK_BYTES)
    if (remaining < LOG_HEADER_BYTES) {
      position += remaining
      continue
    }
    const length = data.readUInt16LE(position + 4)
    chunks.push({ offset: position, length, type: data[position + 6] as number })
    position += LOG_HEADER_BYTES + length
  }
  return chunks
}

interface TableLayout {
  sizeBytes: number
  dataEnd: number
  index: { offset: number; size: number }
  footerOffset: number
}

function tableLayout(data: Buffer): TableLayout {
  const footerOffset = data.length - TABLE_FOOTER_BYTES
  const handle = (i: number) => ({
    offset: Number(data.readBigUInt64LE(footerOffset + 12 * i)),
    size: data.readUInt32LE(footerOffset + 12 * i + 8),
  })
  const metas = [0, 1, 2, 3].map(handle).filter((h) => h.size > 0)
  return { sizeBytes: data.length, dataEnd: Math.min(...metas.map((h) => h.offset)), index: handle(0), footerOffset }
}

function isCorruptionOf(error: unknown, file: string): boolean {
  return error instanceof StrataError && error.code === 'CORRUPTION' && error.file === file
}

interface ReadReport {
  right: number
  corrupt: number
  /** Descriptions of wrong values and unexpected errors (each one a failure). */
  problems: string[]
}

/** Reads every key of `expected` (and the keys around it) by get and by a scan: each read is
 *  right or CORRUPTION naming `file` (`corrupt` counts the gets and the scan that threw it). */
function readEverything(tree: Tree, expected: Expected, file: string): ReadReport {
  const report: ReadReport = { right: 0, corrupt: 0, problems: [] }
  for (let i = 0; i < 180; i++) {
    const k = key(i)
    let value: Buffer | undefined
    try {
      value = tree.get(k)
    } catch (error) {
      if (isCorruptionOf(error, file)) report.corrupt++
      else report.problems.push(`get ${k}: ${describeError(error)}`)
      continue
    }
    if (value?.toString('latin1') === expected.get(k)) report.right++
    else report.problems.push(`get ${k}: WRONG VALUE ${JSON.stringify(value?.toString('latin1'))}, expected ${JSON.stringify(expected.get(k))}`)
  }
  try {
    const entries = tree.iterator().all()
    const scanned = new Map(entries.map(([k, v]) => [k.toString('latin1'), v.toString('latin1')]))
    const same = scanned.size === expected.size && [...expected].every(([k, v]) => scanned.get(k) === v)
    if (!same) report.problems.push(`scan: WRONG RESULT (${scanned.size} entries, expected ${expected.size})`)
  } catch (error) {
    if (isCorruptionOf(error, file)) report.corrupt++
    else report.problems.push(`scan: ${describeError(error)}`)
  }
  return report
}

async function openCopy(vfs: MemVfs, compression: 'none' | 'zstd' = 'none'): Promise<Tree> {
  return Tree.open(DIR, { ...BASE_OPTIONS, compression, vfs })
}

t.test('the undamaged tree reads back exactly (control)', async (t) => {
  const built = await buildTree('none')
  t.ok(built.bottomTables.length >= 1, `compaction wrote ${built.bottomTables.join(', ')}`)
  t.ok(built.level0Table, `level-0 table ${built.level0Table}`)
  const tree = await openCopy(await copyOf(built))
  const report = readEverything(tree, built.expected, 'none')
  t.same(report.problems, [])
  t.equal(report.corrupt, 0)
  t.equal(report.right, 180, 'every get is right and the scan is exact')
  await tree.close()
})

t.test('(a) a flipped byte in a data block: CORRUPTION at the read that touches it', async (t) => {
  const built = await buildTree('none')
  const table = built.bottomTables[0] as string
  const layout = tableLayout(built.mem.fileData(`${DIR}/${table}`))
  const targets = [TABLE_HEADER_BYTES + 3, Math.floor((TABLE_HEADER_BYTES + layout.dataEnd) / 2), layout.dataEnd - 1]
  for (const offset of targets) {
    const vfs = await copyOf(built)
    vfs.flipByte(`${DIR}/${table}`, offset)
    const tree = await openCopy(vfs)
    const report = readEverything(tree, built.expected, table)
    t.same(report.problems, [], `${table} flipped at ${offset}: never a wrong value`)
    t.ok(report.corrupt > 0, `${table} flipped at ${offset}: ${report.corrupt} reads hit CORRUPTION, ${report.right} right`)
    // Find one failing key and look at the error's offset: the damaged block's start.
    for (let i = 0; i < 180; i++) {
      const error = await caught(() => tree.get(key(i)))
      if (error === undefined) continue
      t.ok(isCorruptionOf(error, table), `error names ${table}: ${describeError(error)}`)
      const at = (error as StrataError).offset
      t.ok(typeof at === 'number' && at >= TABLE_HEADER_BYTES && at <= offset, `offset ${String(at)} is the damaged block's start (<= ${offset})`)
      t.ok(isCorruptionOf(await caught(() => tree.get(key(i))), table), 'a second read fails again (no bad block cached)')
      t.notMatch((error as Error).message, /\/db\//, 'the message names no full path')
      break
    }
    await tree.close()
  }
})

t.test('(b) a flipped byte in the index block or the footer: CORRUPTION naming the table', async (t) => {
  const built = await buildTree('none')
  const table = built.bottomTables[0] as string
  const layout = tableLayout(built.mem.fileData(`${DIR}/${table}`))
  const targets = [
    layout.index.offset,
    layout.index.offset + Math.floor(layout.index.size / 2),
    layout.index.offset + layout.index.size + 1, // the index block's trailer (crc)
    layout.footerOffset + 2, // index handle offset
    layout.footerOffset + 9, // index handle size
    layout.footerOffset + 50, // footer format version
    layout.footerOffset + 53, // footer crc
    layout.sizeBytes - 1, // footer magic
    0, // header magic
    9, // header format version
    20, // salt
  ]
  for (const offset of targets) {
    const vfs = await copyOf(built)
    vfs.flipByte(`${DIR}/${table}`, offset)
    const opened = await caught(() => openCopy(vfs).then((tree) => tree.close()))
    t.ok(isCorruptionOf(opened, table), `flip at ${offset}: open fails with CORRUPTION naming ${table}: ${describeError(opened)}`)
  }
})

t.test('a table with a newer format version (header and footer agree) is UNSUPPORTED', async (t) => {
  const built = await buildTree('none')
  const table = built.level0Table
  const data = built.mem.fileData(`${DIR}/${table}`)
  const footerOffset = data.length - TABLE_FOOTER_BYTES
  data.writeUInt32LE(2, 8)
  data.writeUInt32LE(2, footerOffset + 48)
  data.writeUInt32LE(maskCrc(crc32c(data, footerOffset, footerOffset + 52)), footerOffset + 52)
  const vfs = await processCrashCopy(built.mem, DIR, (path, bytes) => (baseName(path) === table ? data : bytes))
  const error = await caught(() => openCopy(vfs).then((tree) => tree.close()))
  t.match(error, { code: 'UNSUPPORTED', file: table }, `UNSUPPORTED naming ${table}: ${describeError(error)}`)
})

t.test('(c) a flipped byte in the middle of the WAL, valid records after it: CORRUPTION at its offset', async (t) => {
  const built = await buildTree('none')
  const chunks = logChunks(built.mem.fileData(`${DIR}/${built.wal}`))
  t.equal(chunks.length, built.walKeys.length, `${built.wal} holds one record per put`)
  const middle = chunks[Math.floor(chunks.length / 2)] as LogChunk
  const targets = [middle.offset + LOG_HEADER_BYTES + Math.floor(middle.length / 2), middle.offset, middle.offset + 4, middle.offset + 6]
  for (const offset of targets) {
    const vfs = await copyOf(built)
    vfs.flipByte(`${DIR}/${built.wal}`, offset)
    const error = await caught(() => openCopy(vfs).then((tree) => tree.close()))
    t.ok(isCorruptionOf(error, built.wal), `flip at ${offset}: CORRUPTION naming ${built.wal}: ${describeError(error)}`)
    t.equal((error as StrataError | undefined)?.offset, middle.offset, 'the offset is the damaged record\'s chunk')
  }
})

t.test('a torn WAL tail is dropped silently; every earlier record is there', async (t) => {
  const built = await buildTree('none')
  const data = built.mem.fileData(`${DIR}/${built.wal}`)
  const last = logChunks(data)[built.walKeys.length - 1] as LogChunk
  const end = last.offset + LOG_HEADER_BYTES + last.length
  t.equal(end, data.length, 'the last record ends the file')
  for (const cut of [1, Math.floor(last.length / 2), last.length, last.length + 3, last.length + LOG_HEADER_BYTES - 1]) {
    const vfs = await processCrashCopy(built.mem, DIR, (path, bytes) => (baseName(path) === built.wal ? bytes.subarray(0, bytes.length - cut) : bytes))
    const tree = await openCopy(vfs)
    const report = readEverything(tree, built.expectedWithoutLastWalRecord, 'none')
    t.same(report.problems, [], `cut ${cut} bytes: exactly the records before the torn one`)
    t.equal(report.corrupt, 0)
    t.ok(tree.stats().droppedWalTailBytes > 0, `the dropped tail is reported (${tree.stats().droppedWalTailBytes} bytes)`)
    await tree.close()
  }
})

t.test('(d) a flipped byte in the middle of the manifest: CORRUPTION naming it', async (t) => {
  const built = await buildTree('none')
  const chunks = logChunks(built.mem.fileData(`${DIR}/${built.manifest}`))
  t.ok(chunks.length >= 3, `${built.manifest} holds ${chunks.length} records`)
  for (const chunk of chunks.slice(0, -1)) {
    const offset = chunk.offset + LOG_HEADER_BYTES + Math.floor(chunk.length / 2)
    const vfs = await copyOf(built)
    vfs.flipByte(`${DIR}/${built.manifest}`, offset)
    const error = await caught(() => openCopy(vfs).then((tree) => tree.close()))
    t.ok(isCorruptionOf(error, built.manifest), `flip at ${offset}: CORRUPTION naming ${built.manifest}: ${describeError(error)}`)
  }
})

t.test('(e) a flipped byte in CURRENT: CORRUPTION naming CURRENT', async (t) => {
  const built = await buildTree('none')
  const size = built.mem.fileData(`${DIR}/CURRENT`).length
  for (let offset = 0; offset < size; offset++) {
    const vfs = await copyOf(built)
    vfs.flipByte(`${DIR}/CURRENT`, offset)
    const error = await caught(() => openCopy(vfs).then((tree) => tree.close()))
    t.ok(isCorruptionOf(error, 'CURRENT'), `flip at ${offset}: ${describeError(error)}`)
  }
})

t.test('a middle log record whose flipped length runs past the end is CORRUPTION, not a torn tail (regression)', async (t) => {
  // The log reader skips the damaged chunk's claimed payload before looking for valid chunks;
  // a corrupt length that claims bytes past the end of the file then hides every later record,
  // and the damage is taken for a torn tail: the records after it vanish without an error.
  const built = await buildTree('none')
  for (const file of [built.manifest, built.wal]) {
    const data = built.mem.fileData(`${DIR}/${file}`)
    const chunks = logChunks(data)
    const victim = chunks.slice(0, -1).find((c) => c.offset + LOG_HEADER_BYTES + (c.length ^ 0xff) > data.length)
    if (victim === undefined) {
      t.fail(`${file}: no record whose flipped length runs past the end`)
      continue
    }
    const vfs = await copyOf(built)
    vfs.flipByte(`${DIR}/${file}`, victim.offset + 4)
    const tablesBefore = (await vfs.list(DIR)).filter((n) => n.endsWith('.sst'))
    const error = await caught(() => openCopy(vfs).then((tree) => tree.close()))
    t.ok(isCorruptionOf(error, file), `${file}: length byte of record at ${victim.offset} flipped (${chunks.length - 1 - chunks.indexOf(victim)} valid records follow): ${describeError(error)}`)
    const tablesAfter = (await vfs.list(DIR)).filter((n) => n.endsWith('.sst'))
    t.same(tablesBefore.filter((n) => !tablesAfter.includes(n)), [], `${file}: the open removed no table`)
  }
})

t.test('a flipped byte in the last manifest record never loses a live table (regression)', async (t) => {
  // The last manifest record may be damaged by media, not by a torn write: it was synced before
  // the WAL it obsoleted was removed. Dropping it as a torn tail rolls the Version back to one
  // whose WAL is gone, and the open then deletes the table the dropped record added.
  const built = await buildTree('none')
  const chunks = logChunks(built.mem.fileData(`${DIR}/${built.manifest}`))
  const last = chunks[chunks.length - 1] as LogChunk
  const vfs = await copyOf(built)
  vfs.flipByte(`${DIR}/${built.manifest}`, last.offset + LOG_HEADER_BYTES + Math.floor(last.length / 2))
  const opened = await caught(async () => {
    const tree = await openCopy(vfs)
    try {
      const report = readEverything(tree, built.expected, built.manifest)
      t.same(report.problems.slice(0, 3), [], 'if the open succeeds, every value is right')
    } finally {
      await tree.close()
    }
  })
  t.ok(opened === undefined || isCorruptionOf(opened, built.manifest), `open: right values or CORRUPTION naming the manifest: ${describeError(opened)}`)
  t.ok((await vfs.list(DIR)).includes(built.level0Table), `the level-0 table ${built.level0Table} is still there`)
})

/** Offsets where a flip may legitimately read as a newer format: table header flags, versions. */
function mayBeUnsupported(file: string, offset: number, sizeBytes: number): boolean {
  if (!file.endsWith('.sst')) return false
  return (offset >= 8 && offset < 16) || (offset >= sizeBytes - 16 && offset < sizeBytes - 12)
}

/** One random flip: open and read. Returns the outcome and, when it is not allowed, a problem.
 *  A flip in the WAL's last record may drop that record as a torn tail (and nothing else); a
 *  flip in the manifest's last record is only counted (see the regression test). */
async function oneRandomFlip(built: Built, compression: 'none' | 'zstd', file: string, offset: number): Promise<{ outcome: string; problem?: string }> {
  const vfs = await copyOf(built)
  vfs.flipByte(`${DIR}/${file}`, offset)
  const sizeBytes = built.mem.fileData(`${DIR}/${file}`).length
  const lastManifestChunk = file === built.manifest ? logChunks(built.mem.fileData(`${DIR}/${file}`)).at(-1) : undefined
  if (lastManifestChunk !== undefined && offset >= lastManifestChunk.offset) {
    // Known engine issue, kept failing in its own regression test above: the last manifest
    // record is dropped as a torn tail. Counted here, not failed twice.
    const error = await caught(async () => (await openCopy(vfs, compression)).close())
    return { outcome: `last manifest record (known issue): ${error === undefined ? 'opened' : describeError(error).split(':')[0]}` }
  }
  let tree: Tree
  try {
    tree = await openCopy(vfs, compression)
  } catch (error) {
    if (isCorruptionOf(error, file)) return { outcome: 'open: CORRUPTION' }
    if (error instanceof StrataError && error.code === 'UNSUPPORTED' && error.file === file && mayBeUnsupported(file, offset, sizeBytes)) {
      return { outcome: 'open: UNSUPPORTED' }
    }
    return { outcome: 'open: other error', problem: `open threw ${describeError(error)}` }
  }
  try {
    const lastWalChunk = file === built.wal ? logChunks(built.mem.fileData(`${DIR}/${file}`)).at(-1) : undefined
    const inLastWalRecord = lastWalChunk !== undefined && offset >= lastWalChunk.offset
    const report = readEverything(tree, built.expected, file)
    if (report.problems.length === 0) return { outcome: report.corrupt > 0 ? 'read: CORRUPTION' : 'read: all right' }
    if (inLastWalRecord) {
      // Damage in the last WAL record reads as a torn write (leveldb's rule): the record is
      // dropped, and nothing else may change.
      const torn = readEverything(tree, built.expectedWithoutLastWalRecord, file)
      if (torn.problems.length === 0) return { outcome: 'last WAL record dropped as a torn tail' }
    }
    return { outcome: 'read: problems', problem: report.problems.slice(0, 4).join('; ') }
  } finally {
    await tree.close().catch(() => undefined)
  }
}

t.test('random single-byte flips in every file: right values or CORRUPTION, never anything else', async (t: Test) => {
  const seed = testSeed()
  const flips = Math.round(RANDOM_FLIPS_AT_CI_SIZE * testScale())
  t.comment(`seed ${seed} (STRATA_SEED=${seed} replays), ${flips} flips`)
  const prng = new Prng(seed)
  const builds = { none: await buildTree('none'), zstd: await buildTree('zstd') }
  const outcomes = new Map<string, number>()
  const problems: string[] = []
  for (let i = 0; i < flips; i++) {
    const compression = i % 2 === 0 ? 'none' : 'zstd'
    const built = builds[compression]
    const files = (await listFilesDeep(built.mem, DIR)).map(baseName)
    const file = files[Math.floor(i / 2) % files.length] as string
    const sizeBytes = built.mem.fileData(`${DIR}/${file}`).length
    const offset = prng.int(sizeBytes)
    const { outcome, problem } = await oneRandomFlip(built, compression, file, offset)
    const kind = `${file.replace(/^\d+/, 'N').replace(/-\d+$/, '-N')}: ${outcome}`
    outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1)
    if (problem !== undefined) problems.push(`${compression} ${file} flip at ${offset}/${sizeBytes}: ${problem}`)
  }
  t.comment([...outcomes].sort().map(([k, n]) => `${n} x ${k}`).join('\n'))
  t.same(problems.slice(0, 20), [], `${problems.length} of ${flips} flips gave a wrong value or an unexpected error`)
})
