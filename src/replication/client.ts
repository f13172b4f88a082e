/**
 * LeaderClient: the follower's HTTP client to its leader (undici 7). Every call carries the
 * admin token, has a timeout, and turns a non-2xx answer into LeaderError (status + the
 * registry code of the error body). Bodies of JSON answers are bounded before they are parsed.
 */
import { Agent, request, type Dispatcher } from 'undici'

import type { ParsedDelta, ParsedState } from './protocol.js'
import { parseWireDelta, parseWireState } from './protocol.js'

/** A JSON answer larger than this is not one a leader sends (a delta of ~100k tables). */
export const JSON_ANSWER_BYTES_MAX = 64 * 1024 * 1024
/** Headers must arrive within the long-poll plus this. */
const HEADERS_SLACK_MS = 15_000
/** The leader hashes a whole checkpoint before answering: allow it time on a big tree. */
const CHECKPOINT_HEADERS_TIMEOUT_MS = 30 * 60 * 1000
/** A body that stalls this long is given up (files, checkpoints); the WAL stream has its own. */
const BODY_IDLE_MS = 60_000

export class LeaderError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(`leader answered ${status} ${code}: ${message}`)
    this.name = 'LeaderError'
  }
}

export interface LeaderClientOptions {
  leaderUrl: string
  token: string
  /** Parallel connections to the leader (downloads run in parallel). */
  connections?: number
}

export class LeaderClient {
  readonly origin: string
  readonly #base: string
  readonly #token: string
  readonly #agent: Agent

  constructor(options: LeaderClientOptions) {
    const url = new URL(options.leaderUrl)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('--leader must be an http:// or https:// URL')
    this.origin = url.origin
    this.#base = url.href.replace(/\/+$/, '')
    this.#token = options.token
    this.#agent = new Agent({
      connections: options.connections ?? 16,
      headersTimeout: 30_000 + HEADERS_SLACK_MS,
      bodyTimeout: BODY_IDLE_MS,
      keepAliveTimeout: 10_000,
    })
  }

  /** The leader URL of `path` (for Location headers). */
  url(path: string): string {
    return `${this.#base}${path}`
  }

  async #request(path: string, init: { method?: Dispatcher.HttpMethod; headers?: Record<string, string>; signal?: AbortSignal; bodyTimeout?: number; headersTimeout?: number } = {}): Promise<Dispatcher.ResponseData> {
    const res = await request(this.url(path), {
      dispatcher: this.#agent,
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${this.#token}`, ...init.headers },
      ...(init.signal === undefined ? {} : { signal: init.signal }),
      ...(init.bodyTimeout === undefined ? {} : { bodyTimeout: init.bodyTimeout }),
      ...(init.headersTimeout === undefined ? {} : { headersTimeout: init.headersTimeout }),
    })
    if (res.statusCode >= 200 && res.statusCode < 300) return res
    let code = 'HTTP_ERROR'
    let message = ''
    try {
      const body = JSON.parse(await boundedText(res.body, 64 * 1024)) as { code?: unknown; message?: unknown }
      if (typeof body.code === 'string') code = body.code
      if (typeof body.message === 'string') message = body.message
    } catch {
      res.body.destroy()
    }
    throw new LeaderError(res.statusCode, code, message)
  }

  async #json(path: string, signal?: AbortSignal): Promise<unknown> {
    const res = await this.#request(path, signal === undefined ? {} : { signal })
    return JSON.parse(await boundedText(res.body, JSON_ANSWER_BYTES_MAX))
  }

  /** Tree names on the leader. */
  async trees(signal?: AbortSignal): Promise<string[]> {
    const body = (await this.#json('/v1/trees', signal)) as { trees?: { name?: unknown }[] }
    if (!Array.isArray(body.trees)) throw new LeaderError(200, 'BAD_ANSWER', 'GET /v1/trees has no trees array')
    return body.trees.map((t) => t.name).filter((n): n is string => typeof n === 'string')
  }

  async state(tree: string, signal?: AbortSignal): Promise<ParsedState> {
    return parseWireState(await this.#json(`/v1/trees/${tree}/replication/state`, signal))
  }

  /** The delta since `since`, long-polling up to `waitMs`. LeaderError 410 VERSION_GONE when it cannot be served. */
  async delta(tree: string, since: number, waitMs: number, signal?: AbortSignal): Promise<ParsedDelta> {
    return parseWireDelta(await this.#json(`/v1/trees/${tree}/replication/delta?since=${since}&wait=${waitMs}`, signal))
  }

  async releaseLease(tree: string, leaseId: string): Promise<void> {
    const res = await this.#request(`/v1/trees/${tree}/replication/leases/${encodeURIComponent(leaseId)}`, { method: 'DELETE' })
    await res.body.dump()
  }

  /** The checkpoint archive stream of `tree` (tar), with its headers. */
  async checkpoint(tree: string, signal?: AbortSignal): Promise<{ body: AsyncIterable<Buffer> & { destroy(error?: Error): void }; versionId: number; seqno: number }> {
    // The leader hashes every file before the first byte (BACKUP.json comes first).
    const res = await this.#request(`/v1/trees/${tree}/checkpoint`, { headersTimeout: CHECKPOINT_HEADERS_TIMEOUT_MS, ...(signal === undefined ? {} : { signal }) })
    return { body: res.body as never, versionId: Number(res.headers['x-version-id']), seqno: Number(res.headers['x-seqno']) }
  }

  /** A file's bytes from `offset` (Range + If-Range on the expected ETag). */
  async file(tree: string, kind: 'tables' | 'blobs', id: number, offset: number, etag: string, signal?: AbortSignal): Promise<{ status: number; body: AsyncIterable<Buffer> & { destroy(error?: Error): void }; etag: string | undefined }> {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-`, 'if-range': etag } : {}
    const res = await this.#request(`/v1/trees/${tree}/replication/files/${kind}/${id}`, { headers, ...(signal === undefined ? {} : { signal }) })
    const tag = res.headers['etag']
    return { status: res.statusCode, body: res.body as never, etag: typeof tag === 'string' ? tag : undefined }
  }

  /** The WAL stream after `since` (framed bytes; see wal-wire.ts). No body timeout: heartbeats. */
  async wal(tree: string, since: number, signal: AbortSignal): Promise<AsyncIterable<Buffer> & { destroy(error?: Error): void }> {
    const res = await this.#request(`/v1/trees/${tree}/replication/wal?since=${since}`, { signal, bodyTimeout: 0 })
    return res.body as never
  }

  async close(): Promise<void> {
    await this.#agent.close()
  }
}

async function boundedText(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
  const parts: Buffer[] = []
  let bytes = 0
  for await (const chunk of body) {
    bytes += (chunk as Buffer).length
    if (bytes > max) {
      body.destroy()
      throw new LeaderError(200, 'BAD_ANSWER', `an answer is larger than ${max} bytes`)
    }
    parts.push(chunk as Buffer)
  }
  return Buffer.concat(parts).toString('utf8')
}
