/**
 * Entry point of a background worker thread: runs jobs (job.ts) on the node Vfs and posts
 * back their results. File numbers are asked of the main thread, which owns the counter.
 *
 * Messages in:  { type: 'job', id, job } | { type: 'file-number', request, number }
 * Messages out: { type: 'done', id, result } | { type: 'failed', id, error } |
 *               { type: 'need-file-number', request }
 */
import { parentPort } from 'node:worker_threads'
import { nodeVfs } from '../vfs/node-vfs.js'
import { runJob, type Job } from './job.js'
import { serializeError } from './job-errors.js'

const port = parentPort
if (port === null) throw new Error('worker-main.ts must run in a worker thread')

let nextRequest = 1
const waiting = new Map<number, (n: number) => void>()

function newFileNumber(): Promise<number> {
  const request = nextRequest++
  return new Promise((resolve) => {
    waiting.set(request, resolve)
    port!.postMessage({ type: 'need-file-number', request })
  })
}

port.on('message', (msg: { type: 'job'; id: number; job: Job } | { type: 'file-number'; request: number; number: number }) => {
  if (msg.type === 'file-number') {
    const resolve = waiting.get(msg.request)
    waiting.delete(msg.request)
    resolve?.(msg.number)
    return
  }
  if (msg.type === 'job') {
    runJob(msg.job, { vfs: nodeVfs, newFileNumber }).then(
      (result) => port.postMessage({ type: 'done', id: msg.id, result }),
      (error) => port.postMessage({ type: 'failed', id: msg.id, error: serializeError(error) }),
    )
  }
})
