/**
 * Writes a sorted stream of entries plus range tombstone fragments into one or more tables,
 * cutting a new table once the current one passes `targetBytes`.
 *
 * Cut rule: tables of one level must not overlap, and a table's key range includes the ends of
 * its range tombstones (treated as inclusive). So a cut before key k is allowed only when every
 * fragment already in the table ends strictly before both k and the next fragment still to be
 * written. A huge tombstone therefore delays the cut; it never splits.
 *
 * On failure every table this output created is removed; nothing partial is left for a Version.
 */
import { compareBytes } from '../base/bytes.js'
import { assert } from '../base/assert.js'
import type { KeyKind } from '../base/internal-key.js'
import { tableFileName } from '../filenames.js'
import type { TombstoneFragment } from '../iterator/range-tombstones.js'
import { TableBuilder, type BuiltTable, type TableBuilderOptions } from '../sstable/table-builder.js'
import type { TableMeta } from '../version/file-metadata.js'
import type { Vfs } from '../vfs/vfs.js'

export interface TableOutputOptions {
  vfs: Vfs
  dir: string
  level: number
  targetBytes: number
  builder: TableBuilderOptions
  newFileNumber: () => number | Promise<number>
}

export class TableOutput {
  private builder: TableBuilder | undefined
  private builderId = 0
  private maxEndInTable: Buffer | undefined
  private nextFragment = 0
  private readonly created: number[] = []
  readonly tables: TableMeta[] = []

  constructor(private readonly options: TableOutputOptions, private readonly fragments: readonly TombstoneFragment[]) {}

  /** Adds one entry, opening or cutting tables as needed. Entries come in internal order. */
  async add(key: Buffer, seqno: number, kind: KeyKind, value: Buffer): Promise<void> {
    if (this.builder !== undefined && this.shouldCutBefore(key)) await this.finishTable()
    if (this.builder === undefined) await this.openTable()
    this.addFragmentsUpTo(key)
    this.builder!.add(key, seqno, kind, value)
  }

  /** Writes the remaining fragments and finishes the last table. Returns every table written. */
  async finish(): Promise<TableMeta[]> {
    if (this.nextFragment < this.fragments.length) {
      if (this.builder === undefined) await this.openTable()
      this.addFragmentsUpTo(undefined)
    }
    if (this.builder !== undefined) await this.finishTable()
    return this.tables
  }

  /** Abandons the open table and removes every table this output created. */
  async abort(): Promise<void> {
    const b = this.builder
    this.builder = undefined
    if (b) await b.abandon().catch(() => undefined)
    for (const id of this.created) {
      await this.options.vfs.remove(`${this.options.dir}/${tableFileName(id)}`).catch(() => undefined)
    }
  }

  private shouldCutBefore(key: Buffer): boolean {
    const b = this.builder!
    if (b.entryCount === 0 || b.estimatedBytes < this.options.targetBytes) return false
    if (this.maxEndInTable === undefined) return true
    let boundary = key
    const pending = this.fragments[this.nextFragment]
    if (pending !== undefined && compareBytes(pending.start, boundary) < 0) boundary = pending.start
    return compareBytes(this.maxEndInTable, boundary) < 0
  }

  private addFragmentsUpTo(key: Buffer | undefined): void {
    const b = this.builder!
    while (this.nextFragment < this.fragments.length) {
      const f = this.fragments[this.nextFragment]!
      if (key !== undefined && compareBytes(f.start, key) > 0) break
      for (const s of f.seqnos) b.addRangeTombstone(f.start, f.end, s)
      if (this.maxEndInTable === undefined || compareBytes(f.end, this.maxEndInTable) > 0) this.maxEndInTable = f.end
      this.nextFragment++
    }
  }

  private async openTable(): Promise<void> {
    assert(this.builder === undefined, 'a table is already open')
    const id = await this.options.newFileNumber()
    const name = tableFileName(id)
    const file = await this.options.vfs.create(`${this.options.dir}/${name}`)
    this.created.push(id)
    this.builderId = id
    this.maxEndInTable = undefined
    this.builder = new TableBuilder(file, name, id, this.options.builder)
  }

  private async finishTable(): Promise<void> {
    const b = this.builder
    assert(b !== undefined, 'no open table')
    this.builder = undefined
    const built: BuiltTable = await b.finish()
    this.tables.push({ id: this.builderId, level: this.options.level, ...built, createdAtMs: Date.now() })
  }
}
