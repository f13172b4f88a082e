/**
 * Helpers for engine replication tests: a follower made from a leader's checkpoint, and the
 * "network" between them (files read through the leader's ReplicationSource, written into the
 * follower's staging directory on the same Vfs).
 */
import type { LeasedDelta, Tree, Vfs } from '../../../src/engine/index.js'

export function tableName(id: number): string {
  return `${String(id).padStart(6, '0')}.sst`
}

/** Copies one file the leader serves into `dir`, in chunks, as a download would. */
export async function fetchTable(leader: Tree, vfs: Vfs, id: number, dir: string): Promise<void> {
  const file = await leader.replication.openFile('table', id)
  try {
    await vfs.mkdirp(dir)
    const out = await vfs.create(`${dir}/${tableName(id)}`)
    for (let offset = 0; offset < file.sizeBytes; offset += 4096) {
      out.append(file.readAt(offset, Math.min(4096, file.sizeBytes - offset)))
    }
    await out.sync()
    await out.close()
  } finally {
    await file.close()
  }
}

/** Makes a follower of `leader` at `dir` from a checkpoint; returns it positioned at the checkpoint. */
export async function makeFollower(leader: Tree, dir: string, options: Record<string, unknown> = {}): Promise<Tree> {
  const ckpt = await leader.checkpoint(dir)
  const { Tree: TreeClass } = await import('../../../src/engine/index.js')
  const follower = await TreeClass.open(dir, { ...options, replication: { follower: true } })
  await follower.replica.installDelta({
    treeId: leader.treeId, from: ckpt.versionId, to: ckpt.versionId, seqno: ckpt.seqno,
    addTables: [], removeTables: [], addBlobFiles: [], removeBlobFiles: [],
  })
  return follower
}

/** One round of the follower loop: delta -> fetch missing files -> install -> release lease. */
export async function catchUp(leader: Tree, follower: Tree, vfs: Vfs, atDelta?: (delta: LeasedDelta) => void): Promise<LeasedDelta> {
  const since = follower.replica.position().versionId!
  const delta = leader.replication.delta(since, true)
  atDelta?.(delta)
  for (const t of delta.addTables) {
    if (!delta.removeTables.includes(t.id)) await fetchTable(leader, vfs, t.id, follower.replicaStagingDir)
  }
  await follower.replica.installDelta(delta)
  if (delta.leaseId !== null) leader.replication.releaseLease(delta.leaseId)
  return delta
}

/** Every key and value of `tree` at `seqno` (default newest), as strings. */
export function contents(tree: Tree, seqno?: number): Map<string, string> {
  const out = new Map<string, string>()
  for (const [k, v] of tree.iterator(seqno === undefined ? {} : { seqno })) out.set(k.toString('latin1'), v.toString('latin1'))
  return out
}

export function levels(tree: Tree): string {
  return JSON.stringify(tree.stats().levels)
}
