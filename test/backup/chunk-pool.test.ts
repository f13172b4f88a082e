// Pooled file-read buffers for archive streams (src/backup/chunk-pool.ts) and their release
// points (archive-stream.ts releaseWrittenChunks, zstdCompress's consumed callback): a buffer
// comes back only through the exact chunk handed out, only once it is no longer read, and the
// archives made with a pool are byte for byte the ones made without, with consumers that hold
// chunks for a while before they are done with them.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'

import t, { type Test } from 'tap'

import { archiveStream, ChunkPool, describeCheckpoint, releaseWrittenChunks, TAR_CHUNK_BYTES } from '../../src/backup/index.js'
import { Prng, testSeed } from '../helpers/prng.js'

const MiB = 1024 * 1024

t.test('take and give: exact chunks only, once, a bounded free list', async (t) => {
  const pool = new ChunkPool(1024, 2)
  const a = pool.take(1000)
  t.equal(a.length, 1000)
  t.ok(pool.owns(a))
  t.notOk(pool.owns(Buffer.from(a)), 'a copy is not the pool\'s')
  t.notOk(pool.owns(a.subarray(0, 10)), 'a slice is not the pool\'s')
  pool.give(a.subarray(0, 10))
  pool.give(Buffer.from(a))
  const b = pool.take(1024)
  t.not(b.buffer, a.buffer, 'nothing came back through a slice or a copy: a new buffer')
  t.equal(pool.reused, 0)
  pool.give(a)
  t.notOk(pool.owns(a), 'given back: no longer handed out')
  pool.give(a) // twice: ignored
  const c = pool.take(512)
  t.equal(c.buffer, a.buffer, 'the given buffer is reused')
  const d = pool.take(512)
  t.not(d.buffer, a.buffer, 'given twice, reused once')
  t.equal(pool.reused, 1)
  const big = pool.take(4096)
  t.equal(big.length, 4096, 'larger than a chunk: a buffer of its own')
  t.notOk(pool.owns(big))
  for (const chunk of [b, c, d]) pool.give(chunk)
  t.equal(pool.created, 3)
  t.equal([pool.take(1), pool.take(1), pool.take(1)].filter((x) => x.buffer === b.buffer || x.buffer === c.buffer || x.buffer === d.buffer).length, 2,
    'at most buffersMax free buffers are kept')
})

function checkpointDir(t: Test, files: Record<string, Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-chunk-pool-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data)
  return dir
}

/**
 * A sink like a socket: write() returns at once, the bytes are read ("sent") a random while
 * later, then the write's callback runs. A buffer reused before its send would show up as
 * wrong bytes in the output.
 */
function slowSink(prng: Prng): { sink: Writable; output: () => Buffer } {
  const sent: Buffer[] = []
  const sink = new Writable({
    highWaterMark: 2 * MiB,
    write(chunk: Buffer, _encoding, callback) {
      void sleep(prng.int(3)).then(() => {
        sent.push(Buffer.from(chunk))
        callback()
      })
    },
  })
  return { sink, output: () => Buffer.concat(sent) }
}

const description = { tree: 'orders', treeId: 'tree-id-1', seqno: 42, versionId: 7, createdAt: '2025-01-02T03:04:05.678Z' }

t.test('archives made with a pool equal those made without, and reuse its buffers', async (t) => {
  const prng = new Prng(testSeed())
  const files = {
    'CURRENT': Buffer.from('MANIFEST-000009\n'),
    '000007.sst': randomBytes(6 * MiB + 17),
    '000008.sst': randomBytes(3 * MiB),
    'MANIFEST-000009': randomBytes(1000),
  }
  const source = await describeCheckpoint(checkpointDir(t, files), description)
  const reference = async (compression: 'none' | 'zstd'): Promise<Buffer> => {
    const chunks: Buffer[] = []
    for await (const c of archiveStream(source, compression)) chunks.push(c as Buffer)
    return Buffer.concat(chunks)
  }
  const pool = new ChunkPool(TAR_CHUNK_BYTES, 4)
  for (let round = 0; round < 3; round++) {
    // plain tar: the sink gives each chunk back once written
    const plain = slowSink(prng)
    releaseWrittenChunks(plain.sink, pool)
    await pipeline(archiveStream(source, 'none', pool), plain.sink)
    t.ok(plain.output().equals(await reference('none')), `round ${round}: tar identical`)
    // zstd: the compressor gives each chunk back once it copied it
    const compressed = slowSink(prng)
    await pipeline(archiveStream(source, 'zstd', pool), compressed.sink)
    t.ok(compressed.output().equals(await reference('zstd')), `round ${round}: tar.zst identical`)
  }
  t.ok(pool.reused > 10, `buffers reused (${pool.reused} reuses of ${pool.created} buffers)`)
  t.ok(pool.created <= 12, `few buffers allocated for ~60 chunk reads (${pool.created})`)
})

t.test('a consumer that ignores the pool still gets exact bytes; nothing comes back', async (t) => {
  const files = { '000007.sst': randomBytes(5 * MiB), 'CURRENT': Buffer.from('MANIFEST-000001\n') }
  const source = await describeCheckpoint(checkpointDir(t, files), description)
  const pool = new ChunkPool(TAR_CHUNK_BYTES)
  const held: Buffer[] = []
  for await (const c of archiveStream(source, 'none', pool)) held.push(c as Buffer)
  const plain: Buffer[] = []
  for await (const c of archiveStream(source, 'none')) plain.push(c as Buffer)
  t.ok(Buffer.concat(held).equals(Buffer.concat(plain)), 'identical, every chunk held to the end')
  t.equal(pool.reused, 0, 'no chunk was given back, so none was reused')
})
