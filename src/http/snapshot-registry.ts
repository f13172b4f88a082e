/**
 * SnapshotRegistry: engine snapshots pinned over HTTP, each with an expiry. Two kinds share it:
 * `snapshot` (POST /snapshots, released by DELETE or expiry) and `cursor` (a scan cursor's
 * seqno, extended by every page it serves). A pin keeps the tree's history at its seqno from
 * compaction, so reads and scans at it stay exact (engine: a read below the compaction horizon
 * needs a live snapshot at exactly that seqno).
 *
 * Invariants:
 * - At most one engine snapshot per (tree, treeId, kind, seqno): pinning a pinned seqno again
 *   extends the expiry to the later of the two.
 * - A pin past its expiry is never reported live: lookups release it on the spot, and a sweep
 *   every SNAPSHOT_SWEEP_INTERVAL_MS releases the rest (so compaction may drop the history).
 * - At most `pinsPerTreeMax` pins per tree (a bound on the history one client can hold).
 * - Pins are keyed by treeId too: a tree dropped and created again under the same name never
 *   sees the old tree's pins. releaseTree() (on drop) and close() release everything.
 * - The engine API pins only a tree's newest seqno (tree.snapshot()), so pins are always made at
 *   the current seqno.
 */
import type { Snapshot, Tree } from '../engine/index.js'

export type PinKind = 'snapshot' | 'cursor'

export interface PinnedSeqno {
  seqno: number
  expiresAtMs: number
}

export interface SnapshotRegistryOptions {
  /** Milliseconds since the epoch. */
  now: () => number
  pinsPerTreeMax: number
  /** Background sweep period; 0 disables the timer (tests call sweep()). */
  sweepIntervalMs: number
}

interface Pin {
  snapshot: Snapshot
  expiresAtMs: number
}

interface TreePins {
  treeId: string
  pins: Map<string, Pin>
}

function pinKey(kind: PinKind, seqno: number): string {
  return `${kind}:${seqno}`
}

export class SnapshotRegistry {
  private readonly trees = new Map<string, TreePins>()
  private readonly timer: NodeJS.Timeout | undefined

  constructor(private readonly options: SnapshotRegistryOptions) {
    if (!(options.pinsPerTreeMax >= 1)) throw new TypeError('pinsPerTreeMax must be at least 1')
    if (options.sweepIntervalMs > 0) {
      this.timer = setInterval(() => this.sweep(), options.sweepIntervalMs)
      this.timer.unref()
    }
  }

  /**
   * Pins the tree's newest seqno for `ttlMs`. Returns the pin, or undefined when the tree
   * already holds pinsPerTreeMax pins.
   */
  pinCurrent(name: string, tree: Tree, kind: PinKind, ttlMs: number): PinnedSeqno | undefined {
    if (!(ttlMs > 0)) throw new TypeError('a pin needs a positive ttl')
    const entry = this.entry(name, tree.treeId)
    const seqno = tree.seqno
    const now = this.options.now()
    const key = pinKey(kind, seqno)
    const existing = this.live(entry, key, now)
    if (existing !== undefined) {
      existing.expiresAtMs = Math.max(existing.expiresAtMs, now + ttlMs)
      return { seqno, expiresAtMs: existing.expiresAtMs }
    }
    if (entry.pins.size >= this.options.pinsPerTreeMax) this.sweepTree(entry, now)
    if (entry.pins.size >= this.options.pinsPerTreeMax) return undefined
    const snapshot = tree.snapshot()
    if (snapshot.seqno !== seqno) throw new Error('tree.snapshot() pins the newest seqno')
    entry.pins.set(key, { snapshot, expiresAtMs: now + ttlMs })
    return { seqno, expiresAtMs: now + ttlMs }
  }

  /** Extends a live pin to at least now + ttlMs; false when there is none. */
  extend(name: string, treeId: string, kind: PinKind, seqno: number, ttlMs: number): boolean {
    const entry = this.trees.get(name)
    if (entry === undefined || entry.treeId !== treeId) return false
    const now = this.options.now()
    const pin = this.live(entry, pinKey(kind, seqno), now)
    if (pin === undefined) return false
    pin.expiresAtMs = Math.max(pin.expiresAtMs, now + ttlMs)
    return true
  }

  /** The live pin of this kind and seqno, if any. */
  get(name: string, treeId: string, kind: PinKind, seqno: number): PinnedSeqno | undefined {
    const entry = this.trees.get(name)
    if (entry === undefined || entry.treeId !== treeId) return undefined
    const pin = this.live(entry, pinKey(kind, seqno), this.options.now())
    return pin === undefined ? undefined : { seqno, expiresAtMs: pin.expiresAtMs }
  }

  /** Releases the pin of this kind and seqno; false when there was none (or it had expired). */
  release(name: string, treeId: string, kind: PinKind, seqno: number): boolean {
    const entry = this.trees.get(name)
    if (entry === undefined || entry.treeId !== treeId) return false
    const key = pinKey(kind, seqno)
    const pin = this.live(entry, key, this.options.now())
    if (pin === undefined) return false
    pin.snapshot.release()
    entry.pins.delete(key)
    return true
  }

  /** Number of live and not yet swept pins of the tree. */
  count(name: string): number {
    return this.trees.get(name)?.pins.size ?? 0
  }

  /** Releases every pin of the tree `name` (it is being dropped). */
  releaseTree(name: string): void {
    const entry = this.trees.get(name)
    if (entry === undefined) return
    for (const pin of entry.pins.values()) pin.snapshot.release()
    this.trees.delete(name)
  }

  /** Releases every expired pin; returns how many. */
  sweep(): number {
    const now = this.options.now()
    let released = 0
    for (const [name, entry] of this.trees) {
      released += this.sweepTree(entry, now)
      if (entry.pins.size === 0) this.trees.delete(name)
    }
    return released
  }

  /** Stops the timer and releases every pin. */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const name of [...this.trees.keys()]) this.releaseTree(name)
  }

  private entry(name: string, treeId: string): TreePins {
    let entry = this.trees.get(name)
    if (entry !== undefined && entry.treeId !== treeId) {
      this.releaseTree(name)
      entry = undefined
    }
    if (entry === undefined) {
      entry = { treeId, pins: new Map() }
      this.trees.set(name, entry)
    }
    return entry
  }

  /** The pin under `key` if it has not expired; an expired one is released here. */
  private live(entry: TreePins, key: string, now: number): Pin | undefined {
    const pin = entry.pins.get(key)
    if (pin === undefined) return undefined
    if (pin.expiresAtMs > now) return pin
    pin.snapshot.release()
    entry.pins.delete(key)
    return undefined
  }

  private sweepTree(entry: TreePins, now: number): number {
    let released = 0
    for (const [key, pin] of entry.pins) {
      if (pin.expiresAtMs > now) continue
      pin.snapshot.release()
      entry.pins.delete(key)
      released++
    }
    return released
  }
}
