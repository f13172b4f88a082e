/**
 * The committed WAL records a follower streams for sub-second freshness (RocksDB
 * GetUpdatesSince, Redis' replication backlog), leader side. Records are the encoded batch
 * records of wal/batch-record.ts. A stream after seqno S yields S+1, S+2, ... without a gap:
 *
 *  1. it subscribes to new durable groups first (WalFeed, fed by the commit pipeline's
 *     onDurable, so a follower never sees a write the leader could still lose under its sync
 *     policy), noting the newest durable seqno D at that instant;
 *  2. it reads S+1..D from the WAL files on disk (the leader keeps every record not yet in a
 *     table there; each commit group is one append, so a file read between groups holds whole
 *     groups only);
 *  3. then it yields the subscription's records, all > D.
 * When a record it needs is gone (flushed and its WAL deleted, or the reader fell more than
 * SUBSCRIBER_QUEUE_BYTES_MAX behind the writers) the stream ends with WAL_GONE and the follower
 * catches up by a delta instead: it never skips a record silently (RocksDB #1565, rocksplicator
 * #599), and a slow reader never grows a buffer without bound nor blocks the commit path
 * (Redis' client-output-buffer blow-ups, Kvrocks #3356).
 *
 * Memory: per stream, at most SUBSCRIBER_QUEUE_BYTES_MAX of queued records plus, while it
 * catches up, one WAL file (about one memtable).
 */
import { readFixed64 } from '../base/coding.js'
import { StrataError, ErrorCode } from '../errors.js'
import { parseFileName, pathInDir, walFileName } from '../filenames.js'
import type { Vfs } from '../vfs/vfs.js'
import { readLogRecords } from '../wal/log-reader.js'

/** Bytes of records one stream may have queued; past it the stream ends with WAL_GONE. */
export const SUBSCRIBER_QUEUE_BYTES_MAX = 16 * 1024 * 1024
/** Bytes of records a stream hands out at most in one batch (one socket write on the leader). */
export const WAL_BATCH_BYTES_MAX = 1024 * 1024

export interface WalRecord {
  seqno: number
  /** The encoded batch record (its first 8 bytes are `seqno`). Shared: do not modify. */
  record: Buffer
}

export function walGone(seqno: number, why: string): StrataError {
  return new StrataError(ErrorCode.WAL_GONE, `WAL record ${seqno} is no longer available (${why}); catch up with a delta first`)
}

/** One stream's queue of records committed after it subscribed. */
class Subscription {
  #queue: Buffer[] = []
  #head = 0
  #bytes = 0
  overrun = false
  #closed = false
  #wake: (() => void) | undefined

  constructor(private readonly feed: WalFeed) {}

  push(records: readonly Buffer[]): void {
    if (this.overrun || this.#closed) return
    for (const r of records) {
      this.#queue.push(r)
      this.#bytes += r.length
    }
    if (this.#bytes > SUBSCRIBER_QUEUE_BYTES_MAX) {
      this.overrun = true
      this.#queue = []
      this.#head = 0
      this.#bytes = 0
    }
    this.#notify()
  }

  /** The next queued record; undefined once closed or aborted. Throws WAL_GONE after an overrun. */
  async next(signal: AbortSignal | undefined): Promise<Buffer | undefined> {
    return (await this.nextBatch(signal, 0))?.[0]
  }

  /**
   * The queued records, oldest first, as many as fit in `maxBytes` but at least one (waits for
   * one); undefined once closed or aborted. Throws WAL_GONE after an overrun. A caller that
   * takes everything queued in one step sends a burst of commits as one write.
   */
  async nextBatch(signal: AbortSignal | undefined, maxBytes: number): Promise<Buffer[] | undefined> {
    // One waiter at a time: a stream reads its subscription sequentially.
    for (;;) {
      if (this.#closed || signal?.aborted === true) return undefined
      if (this.overrun) throw walGone(0, 'the stream fell too far behind the writers')
      if (this.#head < this.#queue.length) {
        const out: Buffer[] = []
        let bytes = 0
        while (this.#head < this.#queue.length && (out.length === 0 || bytes + this.#queue[this.#head]!.length <= maxBytes)) {
          const record = this.#queue[this.#head]!
          this.#queue[this.#head++] = EMPTY
          this.#bytes -= record.length
          bytes += record.length
          out.push(record)
        }
        if (this.#head === this.#queue.length) {
          this.#queue = []
          this.#head = 0
        }
        return out
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done)
          this.#wake = undefined
          resolve()
        }
        this.#wake = done
        signal?.addEventListener('abort', done, { once: true })
      })
    }
  }

  #notify(): void {
    this.#wake?.()
  }

  close(): void {
    this.#closed = true
    this.feed.unsubscribe(this)
    this.#notify()
  }
}

const EMPTY = Buffer.alloc(0)

export class WalFeed {
  readonly #subscriptions = new Set<Subscription>()

  get subscriberCount(): number {
    return this.#subscriptions.size
  }

  /** Called with each durable commit group, in seqno order. Never blocks. */
  push(records: readonly Buffer[]): void {
    for (const s of this.#subscriptions) s.push(records)
  }

  /** Subscribes now: every group pushed after this call is queued. */
  subscribe(): Subscription {
    const s = new Subscription(this)
    this.#subscriptions.add(s)
    return s
  }

  unsubscribe(s: Subscription): void {
    this.#subscriptions.delete(s)
  }

  /** Ends every stream (tree close). */
  close(): void {
    for (const s of [...this.#subscriptions]) s.close()
  }
}

/**
 * The records with seqno in [from, to] from the WAL files of `dir`, in order, or WAL_GONE when
 * the first of them is not there. A file read is a snapshot of whole commit groups.
 */
export async function* readWalFiles(vfs: Vfs, dir: string, from: number, to: number): AsyncGenerator<WalRecord> {
  const numbers = (await vfs.list(dir))
    .map((n) => parseFileName(n))
    .filter((p) => p?.type === 'wal')
    .map((p) => p!.number!)
    .sort((a, b) => a - b)
  let next = from
  for (const number of numbers) {
    if (next > to) return
    const name = walFileName(number)
    let data: Buffer
    try {
      const file = await vfs.openReadable(pathInDir(dir, name))
      try {
        data = file.readAt(0, file.sizeBytes)
      } finally {
        await file.close()
      }
    } catch (error) {
      if (error instanceof StrataError && error.code === ErrorCode.NOT_FOUND) continue // flushed and deleted meanwhile
      throw error
    }
    for (const record of readLogRecords(data, name).records) {
      const seqno = readFixed64(record, 0)
      if (seqno < next) continue
      if (seqno > to) return
      if (seqno !== next) throw walGone(next, 'it is in a table now')
      yield { seqno, record }
      next++
    }
  }
  if (next <= to) throw walGone(next, 'it is in a table now')
}
