/**
 * LevelIterator: the concatenation of one sorted run of non-overlapping tables (a level >= 1),
 * as leveldb's two-level iterator over the file list and mini-lsm's concat iterator do.
 *
 * Files are opened lazily: only the file under the cursor is open, and moving to another file
 * closes the previous one first. A file that turns out to hold no point entries (e.g. only
 * range tombstones) is skipped. Seeks find their file by binary search on largestKey.
 *
 * Invariants:
 * - files[i].smallestKey <= files[i].largestKey (user keys, both inclusive), and
 *   files[i].largestKey <= files[i + 1].smallestKey (equal only if one user key's versions
 *   were split across two files, which seeks handle by moving on to the next file).
 * - At most one child is open; the cursor is valid iff that child is valid.
 * - After a child throws, the cursor is invalid until the next seek/first/last.
 */
import { assert, INVARIANTS } from '../base/assert.js'
import { compareBytes } from '../base/bytes.js'
import type { KeyKind } from '../base/internal-key.js'
import type { InternalIterator } from './internal-iterator.js'

export interface LevelFile {
  smallestKey: Buffer
  largestKey: Buffer
}

export class LevelIterator implements InternalIterator {
  readonly #files: readonly LevelFile[]
  readonly #openFile: (index: number) => InternalIterator
  /** Index of the open file, or -1 when none is open. */
  #fileIndex = -1
  #child: InternalIterator | null = null
  #closed = false

  constructor(files: readonly LevelFile[], openFile: (index: number) => InternalIterator) {
    assert(Array.isArray(files), 'files must be an array')
    assert(typeof openFile === 'function', 'openFile must be a function')
    // O(files) compares per iterator: only with STRATA_INVARIANTS=1.
    for (let i = 0; INVARIANTS && i < files.length; i++) {
      const file = files[i] as LevelFile
      assert(compareBytes(file.smallestKey, file.largestKey) <= 0, 'file smallestKey > largestKey')
      if (i > 0) {
        const before = files[i - 1] as LevelFile
        assert(compareBytes(before.largestKey, file.smallestKey) <= 0, 'level files overlap or unsorted')
      }
    }
    this.#files = files
    this.#openFile = openFile
  }

  get valid(): boolean {
    return this.#child !== null && this.#child.valid
  }
  get key(): Buffer {
    return this.#current().key
  }
  get seqno(): number {
    return this.#current().seqno
  }
  get kind(): KeyKind {
    return this.#current().kind
  }
  get value(): Buffer {
    return this.#current().value
  }

  seekGE(userKey: Uint8Array, seqno?: number): void {
    this.#checkOpen()
    const index = this.#firstFileEndingAtOrAfter(userKey)
    this.#guard(() => {
      if (index === this.#files.length) return this.#closeChild()
      this.#open(index).seekGE(userKey, seqno)
      this.#skipForward()
    })
  }

  seekLT(userKey: Uint8Array): void {
    this.#checkOpen()
    const index = this.#firstFileEndingAtOrAfter(userKey)
    this.#guard(() => {
      const files = this.#files
      if (index < files.length && compareBytes((files[index] as LevelFile).smallestKey, userKey) < 0) {
        this.#open(index).seekLT(userKey)
        this.#skipBackward()
        return
      }
      // Every file before `index` ends before userKey; file `index` (if any) starts at or
      // after it and is not opened.
      if (index === 0) return this.#closeChild()
      this.#open(index - 1).last()
      this.#skipBackward()
    })
  }

  first(): void {
    this.#checkOpen()
    this.#guard(() => {
      if (this.#files.length === 0) return this.#closeChild()
      this.#open(0).first()
      this.#skipForward()
    })
  }

  last(): void {
    this.#checkOpen()
    this.#guard(() => {
      if (this.#files.length === 0) return this.#closeChild()
      this.#open(this.#files.length - 1).last()
      this.#skipBackward()
    })
  }

  next(): void {
    this.#checkOpen()
    assert(this.valid, 'next requires a valid iterator')
    this.#guard(() => {
      ;(this.#child as InternalIterator).next()
      this.#skipForward()
    })
  }

  prev(): void {
    this.#checkOpen()
    assert(this.valid, 'prev requires a valid iterator')
    this.#guard(() => {
      ;(this.#child as InternalIterator).prev()
      this.#skipBackward()
    })
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#closeChild()
  }

  #checkOpen(): void {
    assert(!this.#closed, 'iterator used after close')
  }

  #current(): InternalIterator {
    assert(this.valid, 'accessor requires a valid iterator')
    return this.#child as InternalIterator
  }

  /** First file whose largestKey >= userKey, or files.length. */
  #firstFileEndingAtOrAfter(userKey: Uint8Array): number {
    let low = 0
    let high = this.#files.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (compareBytes((this.#files[mid] as LevelFile).largestKey, userKey) < 0) low = mid + 1
      else high = mid
    }
    return low
  }

  /** While the open child is exhausted, moves to the first entry of the following files. */
  #skipForward(): void {
    while (this.#child !== null && !this.#child.valid) {
      const next = this.#fileIndex + 1
      if (next >= this.#files.length) return this.#closeChild()
      this.#open(next).first()
    }
  }

  /** While the open child is exhausted, moves to the last entry of the preceding files. */
  #skipBackward(): void {
    while (this.#child !== null && !this.#child.valid) {
      const previous = this.#fileIndex - 1
      if (previous < 0) return this.#closeChild()
      this.#open(previous).last()
    }
  }

  /** Makes file `index` the open child, closing the previous one unless it is the same file. */
  #open(index: number): InternalIterator {
    assert(index >= 0 && index < this.#files.length, 'file index out of range')
    if (index === this.#fileIndex && this.#child !== null) return this.#child
    this.#closeChild()
    const child = this.#openFile(index)
    assert(child !== null && typeof child === 'object', 'openFile must return an iterator')
    this.#child = child
    this.#fileIndex = index
    return child
  }

  /** Closes the open child, if any: the cursor becomes invalid. */
  #closeChild(): void {
    const child = this.#child
    this.#child = null
    this.#fileIndex = -1
    if (child !== null) child.close()
  }

  /** Runs a step; if a child throws, closes it, leaves the cursor invalid and rethrows. */
  #guard(step: () => void): void {
    try {
      step()
    } catch (error) {
      try {
        this.#closeChild()
      } catch {
        // The first failure is the one to report; closing a broken child may fail too.
      }
      throw error
    }
  }
}
