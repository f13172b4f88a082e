/**
 * Views pinned by a follower's snapshots. A leader's snapshot pins a seqno and compaction keeps
 * the history it needs; a follower cannot ask its leader to keep history, so its snapshot pins
 * the whole ReadView (memtables and Version) it was taken on, and reads at that seqno use it.
 */
import type { FileReferences } from './file-references.js'
import type { ReadView } from './read-view.js'

export class PinnedViews {
  readonly #views = new Map<number, { view: ReadView; count: number }>()

  constructor(private readonly refs: FileReferences) {}

  /** Pins `view` for reads at `seqno`; the returned function unpins (idempotent). */
  pin(seqno: number, view: ReadView): () => void {
    const held = this.#views.get(seqno)
    const entry = held ?? { view, count: 0 }
    entry.count++
    if (held === undefined) this.#views.set(seqno, entry)
    this.refs.ref(entry.view.version)
    let done = false
    return () => {
      if (done) return
      done = true
      this.refs.unref(entry.view.version)
      entry.count--
      if (entry.count === 0) this.#views.delete(seqno)
    }
  }

  viewAt(seqno: number): ReadView | undefined {
    return this.#views.get(seqno)?.view
  }
}
