/**
 * A follower's memtables hold the WAL records it applied beyond its tables (replication with
 * the WAL stream). They are never flushed: a follower's tables come only from its leader. They
 * are cut into segments of about SEGMENT_BYTES (the active one plus sealed ones, kept in the
 * ReadView's `immutables` slot) so that dropping the records a new delta covers copies at most
 * one segment.
 *
 * Pure functions of memtables: nothing here touches the tree.
 */
import { assert } from '../base/assert.js'
import { Memtable } from '../memtable/memtable.js'
import type { ReadView } from '../read-view.js'

/** Bytes of one memtable segment: bounds the copy a trim makes (a few ms). */
export const SEGMENT_BYTES = 4 * 1024 * 1024

/** A memtable with the entries of `mem` whose seqno satisfies `keep` (`mem` itself if all do). */
function retain(mem: Memtable, keep: (seqno: number) => boolean): Memtable {
  if (mem.isEmpty) return mem
  if (keep(mem.smallestSeqno) && keep(mem.largestSeqno)) return mem
  const out = new Memtable()
  if (!keep(mem.smallestSeqno) && !keep(mem.largestSeqno)) return out // monotone: none passes
  const it = mem.newIterator()
  try {
    for (it.first(); it.valid; it.next()) {
      if (keep(it.seqno)) out.add(it.key, it.seqno, it.kind, it.value)
    }
  } finally {
    it.close()
  }
  for (const t of mem.rangeTombstones()) if (keep(t.seqno)) out.addRangeTombstone(t.start, t.end, t.seqno)
  return out
}

/**
 * The memtables of `view` keeping only entries whose seqno satisfies `keep`, where `keep` is
 * monotone (a lower or an upper bound). Segments left empty are dropped; the active memtable is
 * always present (possibly a new, empty one).
 */
export function retainMemtables(view: ReadView, keep: (seqno: number) => boolean): Pick<ReadView, 'active' | 'immutables'> {
  const active = retain(view.active, keep)
  const immutables = view.immutables.map((m) => retain(m, keep)).filter((m) => !m.isEmpty)
  return { active, immutables }
}

/** Seals the active segment when it is full: the next records go to a fresh one. */
export function sealIfFull(view: ReadView): Pick<ReadView, 'active' | 'immutables'> | undefined {
  if (view.active.approximateBytes < SEGMENT_BYTES) return undefined
  assert(!view.active.isEmpty, 'a full segment holds entries')
  return { active: new Memtable(), immutables: [view.active, ...view.immutables] }
}

export function memtableBytes(view: ReadView): number {
  return view.immutables.reduce((n, m) => n + m.approximateBytes, view.active.approximateBytes)
}
