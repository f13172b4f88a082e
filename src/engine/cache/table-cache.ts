/**
 * Open table readers by file number. A table is opened (footer, index, filter and range
 * tombstones read and verified) before the Version that adds it is installed, so the read path
 * never waits on I/O to open a file; it is closed when the file becomes obsolete. Its
 * descriptor lives in the HandleCache, which bounds the files held open (handle-cache.ts).
 */
import { assert } from '../base/assert.js'
import { tableFileName } from '../filenames.js'
import { FragmentedTombstones } from '../iterator/range-tombstones.js'
import { TableReader } from '../sstable/table-reader.js'
import type { Vfs } from '../vfs/vfs.js'
import type { BlockCache } from './block-cache.js'
import { HandleCache, type HandleCacheStats } from './handle-cache.js'

export interface OpenTable {
  readonly reader: TableReader
  readonly tombstones: FragmentedTombstones
}

export class TableCache {
  private readonly tables = new Map<number, OpenTable>()
  private readonly handles: HandleCache

  constructor(
    private readonly vfs: Vfs,
    private readonly dir: string,
    private readonly blockCache: BlockCache | undefined,
    maxOpenFiles = 1000,
  ) {
    this.handles = new HandleCache(vfs, maxOpenFiles)
  }

  /** Tables of live Versions (each with its index and filter in memory). */
  get openCount(): number {
    return this.tables.size
  }

  /** Descriptors held open, and how often an evicted one was reopened. */
  handleStats(): HandleCacheStats {
    return this.handles.stats()
  }

  async open(fileNumber: number): Promise<OpenTable> {
    const existing = this.tables.get(fileNumber)
    if (existing) return existing
    const name = tableFileName(fileNumber)
    const path = `${this.dir}/${name}`
    const file = this.handles.adopt(path, await this.vfs.openReadable(path))
    try {
      const reader = TableReader.open(file, name, fileNumber, this.blockCache)
      const entry: OpenTable = { reader, tombstones: FragmentedTombstones.from(reader.rangeTombstones) }
      this.tables.set(fileNumber, entry)
      return entry
    } catch (error) {
      await file.close()
      throw error
    }
  }

  /** The open table; the caller guarantees it was opened (it is in a live Version). */
  get(fileNumber: number): OpenTable {
    const t = this.tables.get(fileNumber)
    assert(t !== undefined, `table ${fileNumber} is not open`)
    return t
  }

  async close(fileNumber: number): Promise<void> {
    const t = this.tables.get(fileNumber)
    if (!t) return
    this.tables.delete(fileNumber)
    this.blockCache?.evictFile(fileNumber)
    await t.reader.close()
  }

  async closeAll(): Promise<void> {
    const ids = [...this.tables.keys()]
    for (const id of ids) await this.close(id)
  }
}
