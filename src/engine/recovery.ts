/**
 * Opening a tree directory: the manifest gives the Version; the WALs not yet in tables are
 * replayed into a memtable. Recovery rules:
 * - CURRENT names the manifest; a torn manifest tail is dropped, corruption in its middle is
 *   refused (version/manifest.ts).
 * - WALs with numbers >= the manifest's logNumber are replayed in number order; each drops its
 *   own torn tail and refuses corruption in its middle with CORRUPTION naming the file and
 *   offset (wal/log-reader.ts). Older WALs are already in tables.
 * - The merge operator a tree was created with must be the one it is opened with.
 */
import { randomUUID } from 'node:crypto'
import { KeyKind } from './base/internal-key.js'
import { StrataError, ErrorCode } from './errors.js'
import { parseFileName, walFileName } from './filenames.js'
import { Memtable } from './memtable/memtable.js'
import { readWholeFile } from './vfs/atomic.js'
import type { Vfs } from './vfs/vfs.js'
import { decodeBatchRecord } from './wal/batch-record.js'
import { readLogRecords } from './wal/log-reader.js'
import { VersionSet } from './version/version-set.js'

export interface RecoveredTree {
  versions: VersionSet
  /** Entries of the replayed WALs (possibly empty). */
  memtable: Memtable
  /** WAL numbers that were replayed; obsolete once `memtable` is in a table. */
  replayedWals: number[]
  lastSeqno: number
  /** Bytes dropped from torn WAL tails (reported in stats). */
  droppedTailBytes: number
  created: boolean
}

export async function recoverTree(
  vfs: Vfs,
  dir: string,
  mergeOperatorName: string | null,
  createIfMissing: boolean,
): Promise<RecoveredTree> {
  let created = false
  let versions: VersionSet
  if (await vfs.exists(`${dir}/CURRENT`)) {
    versions = await VersionSet.recover(vfs, dir)
  } else {
    if (!createIfMissing) throw new StrataError(ErrorCode.NOT_FOUND, 'no tree exists at the given path')
    // A manifest without CURRENT is a creation that died before CURRENT was written: nothing
    // was ever acknowledged, so the tree is created afresh. Tables or WALs without CURRENT are
    // another matter: data may be there, and we refuse to guess.
    const stray = (await vfs.list(dir)).filter((n) => {
      const t = parseFileName(n)?.type
      return t === 'table' || t === 'wal'
    })
    if (stray.length > 0) {
      throw new StrataError(ErrorCode.CORRUPTION, `tree directory has ${stray.length} data files but no CURRENT`, { file: 'CURRENT' })
    }
    versions = await VersionSet.create(vfs, dir, { treeId: randomUUID(), mergeOperatorName })
    created = true
  }
  const stored = versions.mergeOperatorName
  if (stored !== mergeOperatorName) {
    await versions.close()
    throw new StrataError(
      ErrorCode.MERGE_OPERATOR_MISMATCH,
      `the tree was created with merge operator ${stored === null ? 'none' : `'${stored}'`}, opened with ${mergeOperatorName === null ? 'none' : `'${mergeOperatorName}'`}`,
    )
  }
  const memtable = new Memtable()
  let lastSeqno = versions.lastSeqno
  let droppedTailBytes = 0
  const wals = (await vfs.list(dir))
    .map((n) => parseFileName(n))
    .filter((p) => p?.type === 'wal' && p.number !== undefined && p.number >= versions.logNumber)
    .map((p) => p!.number!)
    .sort((a, b) => a - b)
  try {
    for (const n of wals) {
      const name = walFileName(n)
      const data = await readWholeFile(vfs, `${dir}/${name}`)
      const log = readLogRecords(data, name)
      droppedTailBytes += log.droppedTailBytes
      log.records.forEach((record, i) => {
        const { seqno, ops } = decodeBatchRecord(record, name, log.offsets[i]!)
        for (const op of ops) {
          if (op.kind === KeyKind.RangeDelete) memtable.addRangeTombstone(op.key, op.value, seqno)
          else memtable.add(op.key, seqno, op.kind, op.value)
        }
        if (seqno > lastSeqno) lastSeqno = seqno
      })
    }
  } catch (error) {
    await versions.close()
    throw error
  }
  return { versions, memtable, replayedWals: wals, lastSeqno, droppedTailBytes, created }
}

/**
 * Removes files no Version references: stray tables, old WALs and manifests, temp files.
 * Only safe while no install is in flight (at open): a newer manifest or a CURRENT.tmp may
 * belong to a switch in progress.
 */
export async function removeObsoleteFiles(
  vfs: Vfs,
  dir: string,
  live: { tables: Set<number>; logNumber: number; manifest: string; keepUnreferencedTables: boolean },
): Promise<number> {
  let removed = 0
  const liveManifestNumber = parseFileName(live.manifest)?.number ?? 0
  for (const name of await vfs.list(dir)) {
    const parsed = parseFileName(name)
    if (!parsed) continue
    const n = parsed.number ?? -1
    const obsolete =
      (parsed.type === 'table' && !live.tables.has(n) && !live.keepUnreferencedTables) ||
      (parsed.type === 'wal' && n < live.logNumber) ||
      (parsed.type === 'manifest' && n < liveManifestNumber) ||
      parsed.type === 'temp'
    if (obsolete) {
      await vfs.remove(`${dir}/${name}`)
      removed++
    }
  }
  return removed
}
