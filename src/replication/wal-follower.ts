/**
 * One WAL stream session of a follower (`--wal`): connects after the copy's seqno, checks the
 * HELLO frame (treeId, leader epoch: Replica.beginWalStream drops records a restarted leader
 * may have lost and says where to resume), applies every RECORD in order, and returns why it
 * stopped. A link silent for WAL_IDLE_MS (the leader sends heartbeats every 2 s) is dropped.
 */
import { isStrataError, type Tree } from '../engine/index.js'
import type { LeaderClient } from './client.js'
import { FrameDecoder, FrameType, type Frame } from './wal-wire.js'

/** No frame for this long: the link is dead (5 missed heartbeats). */
export const WAL_IDLE_MS = 10_000

export type WalSessionEnd = 'gone' | 'full' | 'swapped' | 'reconnect' | 'stopped'

export interface WalSessionOptions {
  signal: AbortSignal
  /** The live copy now: a session ends when a bootstrap replaced its tree. */
  current: () => Tree | undefined
  onRecord?: () => void
  onHeartbeat?: (leaderSeqno: number) => void
}

class SessionEnd extends Error {
  constructor(readonly end: WalSessionEnd) {
    super(end)
  }
}

export async function followWal(client: LeaderClient, name: string, tree: Tree, options: WalSessionOptions): Promise<WalSessionEnd> {
  const since = tree.replica.position().seqno
  const ac = new AbortController()
  const signal = AbortSignal.any([options.signal, ac.signal])
  let idle: NodeJS.Timeout | undefined
  const arm = () => {
    clearTimeout(idle)
    idle = setTimeout(() => ac.abort(), WAL_IDLE_MS)
  }
  arm()
  const decoder = new FrameDecoder()
  let hello = false
  try {
    const body = await client.wal(name, since, signal)
    try {
      for await (const chunk of body) {
        arm()
        for (const frame of decoder.push(chunk)) handle(frame)
      }
    } finally {
      body.destroy()
    }
    return 'reconnect'
  } catch (error) {
    if (error instanceof SessionEnd) return error.end
    if (options.signal.aborted) return 'stopped'
    throw error
  } finally {
    clearTimeout(idle)
    ac.abort()
  }

  function handle(frame: Frame): void {
    if (options.current() !== tree) throw new SessionEnd('swapped')
    if (!hello) {
      if (frame.type !== FrameType.Hello) throw new Error('WAL stream: the first frame is not HELLO')
      const h = JSON.parse(frame.payload.toString('utf8')) as { treeId?: unknown; epoch?: unknown; epochStartSeqno?: unknown }
      if (h.treeId !== tree.treeId || typeof h.epoch !== 'string' || typeof h.epochStartSeqno !== 'number') throw new SessionEnd('swapped')
      hello = true
      // A new leader epoch may drop records above its start: then resume from there.
      if (tree.replica.beginWalStream(h.epoch, h.epochStartSeqno) < since) throw new SessionEnd('reconnect')
      return
    }
    if (frame.type === FrameType.Record) {
      let result
      try {
        result = tree.replica.applyBatch(frame.payload)
      } catch (error) {
        // A gap (a record that does not follow): reconnect from where the copy stands.
        if (isStrataError(error, 'REPLICA_DIVERGED')) throw new SessionEnd('reconnect')
        throw error
      }
      if (result === 'full') throw new SessionEnd('full')
      if (result === 'applied') options.onRecord?.()
      return
    }
    if (frame.type === FrameType.Heartbeat) {
      options.onHeartbeat?.(frame.seqno)
      return
    }
    if (frame.type === FrameType.End) {
      const end = JSON.parse(frame.payload.toString('utf8')) as { code?: unknown }
      throw new SessionEnd(end.code === 'WAL_GONE' ? 'gone' : 'reconnect')
    }
    throw new Error('WAL stream: a second HELLO')
  }
}
