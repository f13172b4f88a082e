/**
 * WalFeed (leader side): the committed WAL records a follower streams for sub-second freshness
 * (RocksDB GetUpdatesSince, Redis' replication backlog). Records are the encoded batch records
 * of wal/batch-record.ts, handed over by the commit pipeline once durable (onDurable), so a
 * follower never sees a write the leader could still lose under its sync policy.
 *
 * Memory: one ring of the newest records, at most `retainBytes` (plus one record). Readers
 * are cursors into the ring, not queues: a reader that falls behind the ring's start ends with
 * WAL_GONE instead of growing a buffer (Redis' client-output-buffer blow-ups, Kvrocks' feed
 * thread blocked on a slow replica): the follower then catches up by a delta and resumes.
 * Retention starts with the first reader (a tree nobody follows pays nothing); records older
 * than that, or flushed before it, come to a follower as tables in a delta.
 *
 * Invariants:
 * - The ring holds consecutive seqnos firstSeqno .. firstSeqno + length - 1, in order.
 * - A reader yields seqnos since+1, since+2, ... without a gap, or throws WAL_GONE; it never
 *   skips a record silently (RocksDB #1565, rocksplicator #599).
 */
import { assert } from '../base/assert.js'
import { readFixed64 } from '../base/coding.js'
import { StrataError, ErrorCode } from '../errors.js'

/** Default bytes of records retained once someone streams; ~40 s at 2,000 writes/s of 100 B. */
export const WAL_RETAIN_BYTES_DEFAULT = 8 * 1024 * 1024

export interface WalRecord {
  seqno: number
  /** The encoded batch record (its first 8 bytes are `seqno`). Shared: do not modify. */
  record: Buffer
}

export class WalFeed {
  readonly #retainBytes: number
  #records: Buffer[] = []
  /** Index in #records of the oldest retained record (entries before it are dropped). */
  #head = 0
  /** Seqno of #records[#head]; when empty, the seqno the next pushed record will carry. */
  #firstSeqno: number
  #bytes = 0
  #retaining = false
  #closed = false
  #waiters: (() => void)[] = []

  /** `lastSeqno`: the newest durable seqno at open (the next record carries lastSeqno + 1). */
  constructor(retainBytes: number, lastSeqno: number) {
    assert(Number.isSafeInteger(retainBytes) && retainBytes >= 0, 'retainBytes')
    this.#retainBytes = retainBytes
    this.#firstSeqno = lastSeqno + 1
  }

  get retainedRecords(): number {
    return this.#records.length - this.#head
  }

  get retainedBytes(): number {
    return this.#bytes
  }

  /** Seqno after the newest record pushed. */
  get #endSeqno(): number {
    return this.#firstSeqno + this.retainedRecords
  }

  /** Called with each durable commit group, in seqno order. */
  push(records: readonly Buffer[]): void {
    if (records.length === 0) return
    if (!this.#retaining) {
      // Nobody reads: only track where the stream is.
      this.#firstSeqno = readFixed64(records[records.length - 1]!, 0) + 1
    } else {
      for (const record of records) {
        assert(readFixed64(record, 0) === this.#endSeqno, 'WAL records arrive in seqno order without gaps')
        this.#records.push(record)
        this.#bytes += record.length
      }
      this.#evict()
    }
    for (const w of this.#waiters.splice(0)) w()
  }

  #evict(): void {
    while (this.retainedRecords > 1 && this.#bytes > this.#retainBytes) {
      this.#bytes -= this.#records[this.#head]!.length
      this.#records[this.#head] = Buffer.alloc(0)
      this.#head++
      this.#firstSeqno++
    }
    if (this.#head > 1024 && this.#head * 2 > this.#records.length) {
      this.#records = this.#records.slice(this.#head)
      this.#head = 0
    }
  }

  /**
   * The records after `since`, then new ones as they commit, until `signal` aborts or the tree
   * closes. Requires: since <= the newest durable seqno. Throws WAL_GONE (at once, or from the
   * generator when the reader falls behind the ring) when a record it needs is not retained.
   */
  read(since: number, signal?: AbortSignal): AsyncGenerator<WalRecord> {
    assert(Number.isSafeInteger(since) && since >= 0, 'since is a seqno')
    if (!this.#retaining) {
      this.#retaining = true
      this.#records = []
      this.#head = 0
      this.#bytes = 0
    }
    this.#checkRetained(since + 1)
    return this.#read(since + 1, signal)
  }

  #checkRetained(next: number): void {
    if (next >= this.#firstSeqno) return
    throw new StrataError(ErrorCode.WAL_GONE, `WAL records from seqno ${next} are no longer retained (oldest: ${this.#firstSeqno}); catch up with a delta first`)
  }

  async *#read(from: number, signal: AbortSignal | undefined): AsyncGenerator<WalRecord> {
    let next = from
    for (;;) {
      if (this.#closed || signal?.aborted === true) return
      this.#checkRetained(next)
      if (next < this.#endSeqno) {
        const record = this.#records[this.#head + (next - this.#firstSeqno)]!
        yield { seqno: next, record }
        next++
        continue
      }
      await this.#waitForPush(signal)
    }
  }

  #waitForPush(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done)
        resolve()
      }
      this.#waiters.push(done)
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  /** Ends every reader (tree close). */
  close(): void {
    this.#closed = true
    for (const w of this.#waiters.splice(0)) w()
  }
}
