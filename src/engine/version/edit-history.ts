/**
 * EditHistory: a bounded ring of the most recent installed edits, keyed by the versionId each
 * produced. A replication delta from version v is composeEdits(history.since(v)); when v is
 * older than the ring holds, the follower gets VERSION_GONE and bootstraps from a checkpoint.
 *
 * Invariants:
 * - Held edits produce consecutive versionIds: base+1, base+2, ..., newest.
 * - At most `maxEdits` edits are held; recording one more drops the oldest and moves the base up.
 * - since(v) is defined exactly for base <= v <= newest ("oldestVersionId" is the base).
 */
import { assert } from '../base/assert.js'
import type { VersionEdit } from './version-edit.js'

/** A ring beyond this many edits is a configuration mistake (each edit may list many tables). */
export const EDIT_HISTORY_EDITS_MAX = 1_000_000

export class EditHistory {
  readonly maxEdits: number
  /** Ring storage; slot of versionId v is (v - 1) % maxEdits. */
  readonly #ring: (VersionEdit | undefined)[]
  /** The version the oldest held edit applies to. */
  #baseVersionId: number
  #newestVersionId: number

  /**
   * `baseVersionId`: the version the first recorded edit will apply to (the VersionSet's
   * versionId when the history starts; 0 for a new tree).
   */
  constructor(maxEdits: number, baseVersionId = 0) {
    assert(Number.isInteger(maxEdits) && maxEdits >= 1, 'maxEdits >= 1')
    assert(maxEdits <= EDIT_HISTORY_EDITS_MAX, 'maxEdits bounded')
    assert(Number.isSafeInteger(baseVersionId) && baseVersionId >= 0, 'baseVersionId')
    this.maxEdits = maxEdits
    this.#ring = new Array<VersionEdit | undefined>(maxEdits).fill(undefined)
    this.#baseVersionId = baseVersionId
    this.#newestVersionId = baseVersionId
  }

  /** The oldest versionId since() can answer for (the base of the oldest held edit). */
  get oldestVersionId(): number {
    return this.#baseVersionId
  }

  /** The versionId the newest held edit produced (the base when nothing is held). */
  get newestVersionId(): number {
    return this.#newestVersionId
  }

  get size(): number {
    return this.#newestVersionId - this.#baseVersionId
  }

  #slot(versionId: number): number {
    return (versionId - 1) % this.maxEdits
  }

  /** Records the edit that produced `versionId`. Requires: versionId = newestVersionId + 1. */
  record(versionId: number, edit: VersionEdit): void {
    const expected = this.#newestVersionId + 1
    assert(versionId === expected, `edit history gap: ${versionId} recorded, ${expected} expected`)
    assert(edit.versionId === undefined || edit.versionId === versionId, 'edit versionId matches')
    if (this.size === this.maxEdits) {
      this.#ring[this.#slot(this.#baseVersionId + 1)] = undefined
      this.#baseVersionId += 1
    }
    this.#ring[this.#slot(versionId)] = edit
    this.#newestVersionId = versionId
    assert(this.size <= this.maxEdits, 'ring bounded')
  }

  /**
   * The edits that lead from `versionId` to the newest version, oldest first ([] when
   * `versionId` is the newest), or undefined when they are no longer (or were never) held:
   * the caller answers VERSION_GONE.
   */
  since(versionId: number): VersionEdit[] | undefined {
    if (!Number.isSafeInteger(versionId)) return undefined
    if (versionId < this.#baseVersionId || versionId > this.#newestVersionId) return undefined
    const edits: VersionEdit[] = []
    for (let id = versionId + 1; id <= this.#newestVersionId; id++) {
      const edit = this.#ring[this.#slot(id)]
      assert(edit !== undefined, `held edit ${id} is in the ring`)
      edits.push(edit)
    }
    assert(edits.length === this.#newestVersionId - versionId, 'one edit per version')
    return edits
  }
}
