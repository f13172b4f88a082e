/**
 * Helpers of the replication end-to-end tests (test/e2e/replication-*.test.ts): a leader
 * (`strata serve`) and a follower (`strata follow`) as real child processes, and a small HTTP
 * client over undici for both. Sizes scale with STRATA_TEST_SCALE (CI: 1).
 */
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'

import { Agent, request } from 'undici'

import { startServe, tempDir, type ServeProcess } from '../helpers/cli-process.js'

export const ADMIN = 'admin-token-0123456789abcdef'
/**
 * What every replication e2e file starts with: a temp directory removed at the end, a tokens
 * file with the admin token, and a list of processes killed at the end (push each one started).
 */
export function e2eWorkspace(
  t: { teardown: (fn: () => unknown) => void },
  prefix: string,
): { dir: { path: string }; tokens: string; processes: ServeProcess[] } {
  const dir = tempDir(prefix)
  t.teardown(dir.remove)
  const tokens = join(dir.path, 'tokens.json')
  writeFileSync(tokens, JSON.stringify([{ token: ADMIN, role: 'admin' }]))
  const processes: ServeProcess[] = []
  t.teardown(async () => {
    for (const p of processes) await kill(p)
  })
  return { dir, tokens, processes }
}

export const SCALE = Math.max(1, Number(process.env['STRATA_TEST_SCALE'] ?? '1'))

/** Starts `args` with `env` added to this process's environment (the child copies it at spawn). */
export async function startWithEnv(args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]))
  Object.assign(process.env, env)
  try {
    return await startServe(args)
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

export async function startLeader(dataDir: string, tokensFile: string, env: Record<string, string> = {}, extra: string[] = []): Promise<ServeProcess> {
  return startWithEnv(['serve', '--data', dataDir, '--port', '0', '--tokens', tokensFile, '--sync', 'none', '--log-level', 'warn', ...extra], env)
}

export async function startFollower(leaderUrl: string, dataDir: string, extra: string[] = []): Promise<ServeProcess> {
  return startWithEnv(['follow', '--leader', leaderUrl, '--token', ADMIN, '--data', dataDir, '--port', '0', '--log-level', 'info', ...extra])
}

/** A port that was free a moment ago (the leader listens on it so a follower can start first). */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

export async function kill(p: ServeProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return
  p.child.kill(signal)
  await p.exited.catch(() => undefined)
}

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

export class Http {
  readonly #agent = new Agent({ connections: 8 })

  constructor(public base: string, private readonly token: string | undefined = ADMIN) {}

  async call(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
    const h: Record<string, string> = { ...headers }
    if (this.token !== undefined) h['authorization'] = `Bearer ${this.token}`
    if (body !== undefined && h['content-type'] === undefined) h['content-type'] = 'application/octet-stream'
    const res = await request(`${this.base}${path}`, { method, headers: h, dispatcher: this.#agent, ...(body === undefined ? {} : { body }) })
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) }
  }

  async json(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<Record<string, unknown>> {
    const res = await this.call(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? {} : { 'content-type': 'application/json' })
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body.toString()}`)
    return res.body.length === 0 ? {} : (JSON.parse(res.body.toString()) as Record<string, unknown>)
  }

  async put(tree: string, key: string, value: string): Promise<number> {
    const res = await this.call('PUT', `/v1/trees/${tree}/keys/${encodeURIComponent(key)}`, value)
    if (res.status !== 200) throw new Error(`put ${key}: ${res.status} ${res.body.toString()}`)
    return (JSON.parse(res.body.toString()) as { seqno: number }).seqno
  }

  async batch(tree: string, ops: unknown[]): Promise<number> {
    return (await this.json('POST', `/v1/trees/${tree}/batch`, { ops })).seqno as number
  }

  async get(tree: string, key: string, headers: Record<string, string> = {}): Promise<Answer> {
    return this.call('GET', `/v1/trees/${tree}/keys/${encodeURIComponent(key)}`, undefined, headers)
  }

  async stats(tree: string): Promise<Record<string, unknown>> {
    return this.json('GET', `/v1/trees/${tree}`)
  }

  /** Every key and value of `tree` (scan pages with the cursor). */
  async scanAll(tree: string): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    let cursor: string | undefined
    for (;;) {
      const page = await this.json('GET', `/v1/trees/${tree}/scan?limit=10000${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
      for (const item of page.items as { key: string; value: string }[]) out.set(item.key, item.value)
      cursor = page.cursor as string | undefined
      if (cursor === undefined) return out
    }
  }

  async metrics(): Promise<string> {
    return (await this.call('GET', '/metrics')).body.toString()
  }

  close(): Promise<void> {
    return this.#agent.close()
  }
}

/** Polls `check` until it returns true (or a value), failing after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      if (await check()) return
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** The value of an (unlabelled or tree-labelled) metric in Prometheus text, or 0. */
export function metric(text: string, name: string, tree?: string): number {
  const label = tree === undefined ? '' : `\\{[^}]*tree="${tree}"[^}]*\\}`
  const m = new RegExp(`^${name}${label} (\\S+)$`, 'm').exec(text)
  return m === null ? 0 : Number(m[1])
}

/** Waits until the follower holds the leader's current version and seqno (after a leader flush). */
export async function converged(leader: Http, follower: Http, tree: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`${tree} to converge`, async () => {
    const state = await leader.json('GET', `/v1/trees/${tree}/replication/state`)
    const f = await follower.stats(tree)
    const r = f.replication as { versionId: number }
    return r.versionId === state.versionId && f.seqno === state.seqno
  }, timeoutMs)
}
