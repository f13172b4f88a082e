/**
 * Helpers of the HTTP route tests: an app on a fresh data directory (closed at teardown),
 * percent-encoding of binary keys, the error-shape check, tokens per role, a seeded PRNG.
 */
import type { Test } from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

import { MemVfs } from '../../src/engine/index.js'
import { buildServer } from '../../src/http/app.js'
import type { ServerOptions } from '../../src/http/options.js'

export const TOKENS = {
  read: 'read-token-0123456789abcdef',
  write: 'write-token-0123456789abcdef',
  admin: 'admin-token-0123456789abcdef',
} as const
export type TokenRole = keyof typeof TOKENS

export const TOKEN_ENTRIES = (Object.keys(TOKENS) as TokenRole[]).map((role) => ({ token: TOKENS[role], role }))

export function bearer(role: TokenRole): Record<string, string> {
  return { authorization: `Bearer ${TOKENS[role]}` }
}

export interface TestApp {
  app: FastifyInstance
  dataDir: string
}

/**
 * A server on a fresh data directory, closed when the test ends. By default the directory lives
 * in a MemVfs (the engine then runs flushes and compactions inline: no worker thread to boot
 * under the test loader) and `sync` is 'none'; `real: true` uses the file system.
 */
export async function makeApp(t: Test, options: Partial<ServerOptions> & { real?: boolean } = {}): Promise<TestApp> {
  const { real, ...rest } = options
  const dataDir = rest.dataDir ?? (real === true ? t.testdir() : '/data')
  const vfs = rest.vfs ?? (real === true ? undefined : new MemVfs())
  const app = await buildServer({ sync: 'none', ...rest, dataDir, ...(vfs === undefined ? {} : { vfs }) })
  t.teardown(() => app.close())
  return { app, dataDir }
}

/** PUT /v1/trees/{name} with `options`; asserts 201. */
export async function createTree(t: Test, app: FastifyInstance, name: string, options?: object, headers: Record<string, string> = {}): Promise<void> {
  const res = await app.inject({ method: 'PUT', url: `/v1/trees/${name}`, ...(options === undefined ? {} : { payload: options }), headers })
  t.equal(res.statusCode, 201, `create tree ${name}: ${res.body}`)
}

/** Percent-encodes every byte that is not RFC 3986 unreserved. */
export function encodeKey(key: Uint8Array | string): string {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key)
  let out = ''
  for (const b of bytes) {
    const c = String.fromCharCode(b)
    out += /[A-Za-z0-9._~-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

export function keyUrl(tree: string, key: Uint8Array | string, suffix = ''): string {
  return `/v1/trees/${tree}/keys/${encodeKey(key)}${suffix}`
}

/** PUT a raw value; returns its seqno. */
export async function putKey(app: FastifyInstance, tree: string, key: Uint8Array | string, value: Uint8Array | string, headers: Record<string, string> = {}): Promise<number> {
  const res = await app.inject({
    method: 'PUT',
    url: keyUrl(tree, key),
    payload: typeof value === 'string' ? Buffer.from(value) : Buffer.from(value),
    headers: { 'content-type': 'application/octet-stream', ...headers },
  })
  if (res.statusCode !== 200) throw new Error(`put failed: ${res.statusCode} ${res.body}`)
  return (res.json() as { seqno: number }).seqno
}

/** Asserts an error answer: status, code, Fastify's shape, and nothing leaking. */
export function assertError(t: Test, res: LightMyRequestResponse, statusCode: number, code: string, what = ''): void {
  const label = `${what} ${res.statusCode} ${res.body.slice(0, 200)}`
  t.equal(res.statusCode, statusCode, `status ${label}`)
  if (res.headers['content-length'] === '0' || res.body === '') return // HEAD
  let body: Record<string, unknown>
  try {
    body = res.json() as Record<string, unknown>
  } catch {
    t.fail(`error body is not JSON: ${label}`)
    return
  }
  t.equal(body['code'], code, `code ${label}`)
  t.equal(body['statusCode'], statusCode, `statusCode field ${label}`)
  t.type(body['error'], 'string', `error field ${label}`)
  t.type(body['message'], 'string', `message field ${label}`)
  t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], `only the four fields ${label}`)
  const message = String(body['message'])
  t.notMatch(message, /\n\s+at /, `no stack ${label}`)
  t.notMatch(message, /\/(tmp|work|home|var|usr)\//, `no path ${label}`)
}

/** mulberry32: a small seeded PRNG; the seed is printed by the caller. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

export function randomBytesFrom(next: () => number, length: number): Buffer {
  const out = Buffer.alloc(length)
  for (let i = 0; i < length; i++) out[i] = Math.floor(next() * 256)
  return out
}
