// The commit pipeline starts a group's WAL sync before inserting the group into the memtable
// (the insert runs while the fsync is on the threadpool). What must still hold: nothing is
// published or acknowledged before the sync resolves, and a failed sync publishes nothing and
// rejects the group and every later write.
import t from 'tap'
import { KeyKind } from '../../../src/engine/base/internal-key.js'
import { CommitPipeline, type CommitHost } from '../../../src/engine/wal/commit-pipeline.js'
import type { BatchOp } from '../../../src/engine/wal/batch-record.js'
import type { LogWriter } from '../../../src/engine/wal/log-writer.js'

function op(key: string): BatchOp {
  return { kind: KeyKind.Put, key: Buffer.from(key), value: Buffer.from('v') }
}

interface Probe {
  host: CommitHost
  events: string[]
  /** Settles the sync in flight (the oldest one not settled yet). */
  settleSync(error?: Error): void
  syncsStarted(): number
}

function probeHost(): Probe {
  const events: string[] = []
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = []
  let started = 0
  const wal = {
    addRecords: (records: readonly Uint8Array[]) => events.push(`append ${records.length}`),
    sync: () => {
      started++
      events.push('sync started')
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }))
    },
  } as unknown as LogWriter
  const host: CommitHost = {
    syncPolicy: 'always',
    beforeGroup: async () => undefined,
    currentWal: () => wal,
    apply: (seqno) => events.push(`apply ${seqno}`),
    publish: (seqno) => events.push(`publish ${seqno}`),
    fail: () => events.push('fail'),
  }
  return {
    host,
    events,
    settleSync(error?: Error) {
      const p = pending.shift()
      if (p === undefined) throw new Error('no sync in flight')
      if (error) p.reject(error)
      else p.resolve()
    },
    syncsStarted: () => started,
  }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Turns the event loop until a sync is in flight (the pipeline may yield a turn first). */
async function untilSyncStarted(probe: Probe): Promise<void> {
  for (let i = 0; i < 20 && probe.syncsStarted() === 0; i++) await turn()
  await turn()
}

t.test('the memtable insert overlaps the sync; publish and resolve wait for it', async (t) => {
  const probe = probeHost()
  const pipeline = new CommitPipeline(probe.host, 0)
  let resolved = false
  const write = pipeline.commit([op('a')]).then((seqno) => {
    resolved = true
    return seqno
  })
  await untilSyncStarted(probe)
  t.same(probe.events, ['append 1', 'sync started', 'apply 1'], 'applied while the sync is in flight')
  t.notOk(resolved, 'not acknowledged before the sync')
  probe.settleSync()
  t.equal(await write, 1)
  t.same(probe.events.slice(3), ['publish 1'])
})

t.test('a failed sync publishes nothing and rejects the group and later writes', async (t) => {
  const probe = probeHost()
  const pipeline = new CommitPipeline(probe.host, 0)
  const first = pipeline.commit([op('a')])
  await untilSyncStarted(probe)
  const second = pipeline.commit([op('b')])
  probe.settleSync(new Error('EIO'))
  await t.rejects(first, /EIO/)
  await t.rejects(second, /EIO/)
  await t.rejects(pipeline.commit([op('c')]), /EIO/)
  t.notOk(probe.events.some((e) => e.startsWith('publish')), 'nothing published')
  t.equal(probe.syncsStarted(), 1)
  t.ok(probe.events.includes('fail'))
})

t.test('an insert that throws still waits for the sync it started (no unhandled rejection)', async (t) => {
  const probe = probeHost()
  const host: CommitHost = { ...probe.host, apply: () => { throw new Error('insert failed') } }
  const pipeline = new CommitPipeline(host, 0)
  const write = pipeline.commit([op('a')])
  await untilSyncStarted(probe)
  probe.settleSync(new Error('EIO too'))
  await t.rejects(write, /insert failed/)
  t.notOk(probe.events.some((e) => e.startsWith('publish')))
})
