import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'

import t, { type Test } from 'tap'

import { LOCK_GARBAGE_STALE_MS, NodeVfs } from '../../../src/engine/vfs/node-vfs.js'
import { MemVfs } from '../../../src/engine/vfs/mem-vfs.js'
import type { FileLock } from '../../../src/engine/vfs/vfs.js'
import { rejectsWith } from '../../helpers/vfs-contract.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const HOLDER = path.join(here, '../../fixtures/lock-holder.mjs')
const NODE_VFS_URL = pathToFileURL(path.join(here, '../../../src/engine/vfs/node-vfs.ts')).href

async function tempDir(t: Test): Promise<string> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'strata-lock-'))
  t.teardown(() => fs.promises.rm(dir, { recursive: true, force: true }))
  return dir
}

function writeRecord(lockPath: string, record: object): void {
  fs.writeFileSync(lockPath, JSON.stringify(record))
}

function readRecord(lockPath: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(lockPath, 'utf8')) as Record<string, unknown>
}

/** A child process that holds `lockPath` through NodeVfs, with a line reader on its stdout. */
interface Holder {
  child: ChildProcess
  nextLine: () => Promise<string>
}

async function startHolder(lockPath: string): Promise<Holder> {
  const tapLoader = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'))
  const loader = tapLoader.length > 0 ? tapLoader : ['--import=@tapjs/typescript/import']
  const args = [...loader, HOLDER, NODE_VFS_URL, lockPath]
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]()
  const nextLine = async (): Promise<string> => String((await lines.next()).value)
  return { child, nextLine }
}

/** A pid that belonged to a process which has exited. */
async function deadPid(): Promise<number | undefined> {
  const child = process.platform === 'win32' ? spawn(process.execPath, ['-e', '']) : spawn('true')
  await once(child, 'exit')
  try {
    process.kill(child.pid as number, 0)
    return undefined // already reused
  } catch {
    return child.pid
  }
}

t.test('in one process a second lock is LOCKED, across instances and spellings', async (t) => {
  const dir = await tempDir(t)
  const lock = await new NodeVfs().lock(`${dir}/LOCK`)
  await rejectsWith(t, new NodeVfs().lock(`${dir}/LOCK`), { code: 'LOCKED', file: 'LOCK' }, dir)
  const relative = path.relative(process.cwd(), `${dir}/LOCK`)
  await rejectsWith(t, new NodeVfs().lock(relative), { code: 'LOCKED', file: 'LOCK' }, dir)
  await lock.release()
  t.notOk(fs.existsSync(`${dir}/LOCK`), 'release removes the file')
  await (await new NodeVfs().lock(relative)).release()
})

t.test('the lock file holds pid, host and startedAt; no temp file remains', async (t) => {
  const dir = await tempDir(t)
  const before = Date.now()
  const lock = await new NodeVfs().lock(`${dir}/LOCK`)
  const record = readRecord(`${dir}/LOCK`)
  t.same(Object.keys(record).sort(), ['host', 'pid', 'startedAt'])
  t.equal(record['pid'], process.pid)
  t.equal(record['host'], os.hostname())
  const startedAtMs = Date.parse(String(record['startedAt']))
  t.ok(startedAtMs >= before - 1000 && startedAtMs <= Date.now() + 1000, 'startedAt is now, ISO 8601')
  t.same(fs.readdirSync(dir), ['LOCK'])
  await lock.release()
})

t.test('concurrent lock calls in one process: exactly one wins', async (t) => {
  const dir = await tempDir(t)
  const vfs = new NodeVfs()
  const results = await Promise.allSettled([1, 2, 3, 4].map(() => vfs.lock(`${dir}/LOCK`)))
  const won = results.filter((result) => result.status === 'fulfilled')
  t.equal(won.length, 1)
  for (const result of won) await (result as PromiseFulfilledResult<FileLock>).value.release()
})

t.test('another process: LOCKED while it holds, free after release, stale once killed', async (t) => {
  const dir = await tempDir(t)
  const { child, nextLine } = await startHolder(`${dir}/LOCK`)
  t.teardown(() => void child.kill('SIGKILL'))
  t.equal(await nextLine(), 'locked', 'the child holds the lock')
  await rejectsWith(t, new NodeVfs().lock(`${dir}/LOCK`), { code: 'LOCKED', file: 'LOCK' }, dir)
  const err = await new NodeVfs().lock(`${dir}/LOCK`).catch((error: Error) => error)
  t.match((err as Error).message, `tree is locked by process ${child.pid}`)
  child.stdin?.write('release\n')
  t.equal(await nextLine(), 'released')
  const ours = await new NodeVfs().lock(`${dir}/LOCK`)
  child.stdin?.write('lock\n')
  t.equal(await nextLine(), 'error LOCKED', 'the child sees our lock')
  await ours.release()
  child.stdin?.write('lock\n')
  t.equal(await nextLine(), 'locked')
  child.kill('SIGKILL')
  await once(child, 'exit')
  t.equal(readRecord(`${dir}/LOCK`)['pid'], child.pid, 'the dead holder left its lock file')
  const lock = await new NodeVfs().lock(`${dir}/LOCK`)
  t.equal(readRecord(`${dir}/LOCK`)['pid'], process.pid, 'taken over')
  await lock.release()
})

t.test('a lock file of a dead pid is stale', async (t) => {
  const dir = await tempDir(t)
  const pid = await deadPid()
  if (pid === undefined) {
    t.comment('the dead pid was reused at once; nothing to test')
    return
  }
  writeRecord(`${dir}/LOCK`, { pid, host: os.hostname(), startedAt: new Date().toISOString() })
  const lock = await new NodeVfs().lock(`${dir}/LOCK`)
  t.equal(readRecord(`${dir}/LOCK`)['pid'], process.pid)
  await lock.release()
})

t.test('a live pid on this host, or any pid on another host, holds the lock', async (t) => {
  const dir = await tempDir(t)
  const startedAt = new Date().toISOString()
  writeRecord(`${dir}/LOCK`, { pid: process.ppid, host: os.hostname(), startedAt })
  const err = await new NodeVfs().lock(`${dir}/LOCK`).catch((error: Error) => error)
  t.match(err, { code: 'LOCKED', message: `tree is locked by process ${process.ppid}` })
  writeRecord(`${dir}/LOCK`, { pid: 1, host: `not-${os.hostname()}`, startedAt: '2001-01-01T00:00:00Z' })
  const remote = await new NodeVfs().lock(`${dir}/LOCK`).catch((error: Error) => error)
  t.match(remote, { code: 'LOCKED', message: /on host not-/ })
  t.equal(readRecord(`${dir}/LOCK`)['pid'], 1, 'left alone')
})

t.test('garbage in the lock file: fresh is LOCKED, old is stale', async (t) => {
  const dir = await tempDir(t)
  fs.writeFileSync(`${dir}/LOCK`, '{"pid": 12')
  await rejectsWith(t, new NodeVfs().lock(`${dir}/LOCK`), { code: 'LOCKED', file: 'LOCK' }, dir)
  const oldSeconds = (Date.now() - LOCK_GARBAGE_STALE_MS - 60_000) / 1000
  fs.utimesSync(`${dir}/LOCK`, oldSeconds, oldSeconds)
  const lock = await new NodeVfs().lock(`${dir}/LOCK`)
  t.equal(readRecord(`${dir}/LOCK`)['pid'], process.pid)
  await lock.release()
})

t.test('our own pid: stale if written before this process started, else held', async (t) => {
  const dir = await tempDir(t)
  const host = os.hostname()
  writeRecord(`${dir}/LOCK`, { pid: process.pid, host, startedAt: new Date().toISOString() })
  const err = await new NodeVfs().lock(`${dir}/LOCK`).catch((error: Error) => error)
  t.match(err, { code: 'LOCKED', message: 'tree is locked by this process' })
  const beforeUs = new Date(Date.now() - process.uptime() * 1000 - 60_000).toISOString()
  writeRecord(`${dir}/LOCK`, { pid: process.pid, host, startedAt: beforeUs })
  const lock = await new NodeVfs().lock(`${dir}/LOCK`)
  t.not(readRecord(`${dir}/LOCK`)['startedAt'], beforeUs, 'a new record')
  await lock.release()
})

t.test('release leaves alone a lock file that is not ours', async (t) => {
  const dir = await tempDir(t)
  const lock = await new NodeVfs().lock(`${dir}/LOCK`)
  writeRecord(`${dir}/LOCK`, { pid: process.ppid, host: os.hostname(), startedAt: new Date().toISOString() })
  await lock.release()
  t.equal(readRecord(`${dir}/LOCK`)['pid'], process.ppid, 'not removed')
  const again = await new NodeVfs().lock(`${dir}/LOCK`).catch((error: Error) => error)
  t.match(again, { code: 'LOCKED' }, 'and the in-process entry is gone: the file decides')
})

t.test('MemVfs locks are exclusive per instance', async (t) => {
  const vfs = new MemVfs()
  await vfs.mkdirp('/tree')
  const lock = await vfs.lock('/tree/LOCK')
  await rejectsWith(t, vfs.lock('tree/LOCK'), { code: 'LOCKED', file: 'LOCK' }, '/tree')
  const other = new MemVfs()
  await other.mkdirp('/tree')
  await (await other.lock('/tree/LOCK')).release()
  t.pass('another instance is another machine')
  await lock.release()
  await (await vfs.lock('/tree/LOCK')).release()
})
