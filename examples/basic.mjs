// A short, runnable tour of the engine: `npm run example`.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Tree } from '../dist/engine/index.js'

const dir = mkdtempSync(join(tmpdir(), 'strata-example-'))
const tree = await Tree.open(dir, { mergeOperator: 'counter' })

const seqno = await tree.put('user:1', 'ada')                 // durable (fsynced) when it resolves
await tree.batch().put('user:2', 'grace').put('user:3', 'linus').write()   // atomic, one seqno
const snap = tree.snapshot()                                  // pin this point in history
await tree.delete('user:3')

const one = Buffer.alloc(8); one.writeBigInt64LE(1n)
await tree.merge('visits', one); await tree.merge('visits', one)

console.log('user:1 =', tree.get('user:1')?.toString(), 'written at seqno', seqno)
console.log('now:      ', [...tree.iterator({ prefix: 'user:' })].map(([k, v]) => `${k}=${v}`).join(' '))
console.log('snapshot: ', [...tree.iterator({ prefix: 'user:', seqno: snap.seqno })].map(([k, v]) => `${k}=${v}`).join(' '))
console.log('visits =', tree.get('visits').readBigInt64LE())
snap.release()

await tree.flush()                                            // memtable -> level-0 table
await tree.compact()                                          // major compaction to the last level
console.log('stats:', JSON.stringify({ seqno: tree.stats().seqno, tables: tree.stats().tables }))
await tree.close()
rmSync(dir, { recursive: true, force: true })
