/**
 * Opening a follower copy: the directory must hold only tables and metadata (a copy made from a
 * leader's checkpoint and grown by deltas); there is no WAL to replay and none is created.
 * Tables no Version references (a received file whose install a crash interrupted) are moved to
 * the staging directory instead of deleted, so a restarted follower never downloads them again
 * (the next install finds and verifies them there).
 */
import { StrataError, ErrorCode } from '../errors.js'
import { parseFileName, pathInDir } from '../filenames.js'
import type { Vfs } from '../vfs/vfs.js'

/** Received files wait here (inside the copy's directory) until their delta installs. */
export const REPLICA_STAGING_DIR_NAME = 'replication-staging'

export function refuseUnflushedRecords(memtableEmpty: boolean): void {
  if (memtableEmpty) return
  throw new StrataError(
    ErrorCode.INVALID_ARGUMENT,
    'the directory holds WAL records that are not in tables: a follower copy holds only tables (was this a leader?)',
  )
}

/** Moves tables `live` does not name into the staging directory; returns how many. */
export async function stageUnreferencedTables(vfs: Vfs, dir: string, live: ReadonlySet<number>): Promise<number> {
  const staging = pathInDir(dir, REPLICA_STAGING_DIR_NAME)
  let moved = 0
  for (const name of await vfs.list(dir)) {
    const parsed = parseFileName(name)
    if (parsed?.type !== 'table' || live.has(parsed.number!)) continue
    if (moved === 0) await vfs.mkdirp(staging)
    await vfs.rename(pathInDir(dir, name), pathInDir(staging, name))
    moved++
  }
  if (moved > 0) {
    await vfs.syncDir(staging)
    await vfs.syncDir(dir)
  }
  return moved
}
