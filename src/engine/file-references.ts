/**
 * Which table files are still needed. A Version holds a reference to each of its tables; the
 * current Version, every open iterator and (later) checkpoints and replication leases hold a
 * reference to a Version. A table whose count drops to zero is obsolete and is deleted, unless
 * a deletion pause is held (checkpoints), in which case deletion waits for the last pause to end
 * (pebble obsolete_files.go, coordinode deletion_pause.rs).
 */
import { assert } from './base/assert.js'
import type { Version } from './version/version.js'

export class FileReferences {
  private readonly tableRefs = new Map<number, number>()
  private readonly versionRefs = new Map<Version, number>()
  private readonly pinnedTables = new Map<number, number>()
  private pauses = 0
  private deferred: number[] = []

  constructor(private readonly deleteTables: (ids: number[]) => void) {}

  /** Takes a reference on `version` (the first one registers its tables). */
  ref(version: Version): void {
    const n = this.versionRefs.get(version)
    if (n !== undefined) {
      this.versionRefs.set(version, n + 1)
      return
    }
    this.versionRefs.set(version, 1)
    for (const t of version.allTables()) this.tableRefs.set(t.id, (this.tableRefs.get(t.id) ?? 0) + 1)
  }

  unref(version: Version): void {
    const n = this.versionRefs.get(version)
    assert(n !== undefined && n > 0, 'unref of an unreferenced version')
    if (n > 1) {
      this.versionRefs.set(version, n - 1)
      return
    }
    this.versionRefs.delete(version)
    const obsolete: number[] = []
    for (const t of version.allTables()) {
      const c = this.tableRefs.get(t.id)
      assert(c !== undefined && c > 0, 'table reference count underflow')
      if (c === 1) {
        this.tableRefs.delete(t.id)
        if (!this.pinnedTables.has(t.id)) obsolete.push(t.id)
      } else this.tableRefs.set(t.id, c - 1)
    }
    this.release(obsolete)
  }

  /** Pins individual tables (replication leases) independently of Versions. */
  pinTables(ids: readonly number[]): () => void {
    for (const id of ids) this.pinnedTables.set(id, (this.pinnedTables.get(id) ?? 0) + 1)
    let done = false
    return () => {
      if (done) return
      done = true
      const obsolete: number[] = []
      for (const id of ids) {
        const c = this.pinnedTables.get(id) ?? 0
        if (c <= 1) {
          this.pinnedTables.delete(id)
          if (!this.tableRefs.has(id)) obsolete.push(id)
        } else this.pinnedTables.set(id, c - 1)
      }
      this.release(obsolete)
    }
  }

  /** Holds back every deletion until the returned function is called. */
  pauseDeletions(): () => void {
    this.pauses++
    let done = false
    return () => {
      if (done) return
      done = true
      this.pauses--
      if (this.pauses === 0 && this.deferred.length > 0) {
        const ids = this.deferred
        this.deferred = []
        this.deleteTables(ids)
      }
    }
  }

  isLive(tableId: number): boolean {
    return this.tableRefs.has(tableId) || this.pinnedTables.has(tableId)
  }

  get liveVersionCount(): number {
    return this.versionRefs.size
  }

  private release(ids: number[]): void {
    if (ids.length === 0) return
    if (this.pauses > 0) this.deferred.push(...ids)
    else this.deleteTables(ids)
  }
}
