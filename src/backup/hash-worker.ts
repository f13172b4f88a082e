/**
 * SHA-256 of whole files in a worker thread, so hashing a checkpoint (every byte of the tree,
 * before the first archive byte: BACKUP.json comes first) never takes CPU slices from the event
 * loop that serves reads — the leader's GET tail during a follower bootstrap was set by it
 * (docs/benchmarks.md, Replication).
 *
 * One worker per process, started on first use, unref'd while idle; requests are served one at
 * a time in order. The worker is plain JavaScript given as source (`eval`), started with no
 * exec arguments: it needs no TypeScript loader and starts in milliseconds under any test runner.
 * If the worker dies, the pending request fails and the next one starts a new worker.
 */
import { Worker } from 'node:worker_threads'

/** Bytes per read inside the worker. */
const CHUNK_BYTES = 1024 * 1024

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const { openSync, readSync, closeSync } = require('node:fs')
const buffer = Buffer.allocUnsafe(${CHUNK_BYTES})
parentPort.on('message', ({ id, path, size }) => {
  // The descriptor is closed before the answer is posted: once the caller has its hash, this
  // thread holds no file of the checkpoint (the caller may count or remove them at once).
  let answer
  let fd
  try {
    fd = openSync(path, 'r')
    const hash = createHash('sha256')
    let position = 0
    while (position < size) {
      const n = readSync(fd, buffer, 0, Math.min(buffer.length, size - position), position)
      if (n === 0) throw new Error('the file shrank while it was hashed')
      hash.update(buffer.subarray(0, n))
      position += n
    }
    answer = { id, sha256: hash.digest('hex') }
  } catch (error) {
    answer = { id, error: String((error && error.message) || error) }
  }
  if (fd !== undefined) {
    try { closeSync(fd) } catch {}
  }
  parentPort.postMessage(answer)
})
`

interface Pending {
  id: number
  path: string
  size: number
  resolve: (sha256: string) => void
  reject: (error: Error) => void
}

let worker: Worker | undefined
const queue: Pending[] = []
let running: Pending | undefined
let nextId = 1

function start(): Worker {
  const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] })
  w.on('message', (message: { id: number; sha256?: string; error?: string }) => {
    const done = running
    if (done === undefined || done.id !== message.id) return
    running = undefined
    if (message.sha256 !== undefined) done.resolve(message.sha256)
    else done.reject(new Error(message.error ?? 'hashing failed'))
    dispatch()
  })
  const died = (cause: unknown) => {
    if (worker === w) worker = undefined
    const lost = running
    running = undefined
    lost?.reject(new Error('the hashing worker stopped', { cause }))
    dispatch()
  }
  w.on('error', died)
  w.on('exit', (code) => died(new Error(`exit code ${code}`)))
  return w
}

function dispatch(): void {
  if (running !== undefined) return
  const next = queue.shift()
  if (next === undefined) {
    worker?.unref()
    return
  }
  worker ??= start()
  worker.ref()
  running = next
  worker.postMessage({ id: next.id, path: next.path, size: next.size })
}

/** SHA-256 (lowercase hex) of the first `size` bytes of the file at `path`, hashed off-thread. */
export function sha256InWorker(path: string, size: number): Promise<string> {
  return new Promise((resolve, reject) => {
    queue.push({ id: nextId++, path, size, resolve, reject })
    dispatch()
  })
}
