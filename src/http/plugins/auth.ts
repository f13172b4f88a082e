/**
 * Bearer-token auth (API.md, Auth). Each route names the role it needs in its config
 * (`config: { role }`); roles rank read < write < admin, and `none` is public.
 *
 * - No tokens configured: every request passes (server.ts then listens on loopback only).
 * - Missing or unknown token: 401 UNAUTHORIZED with `WWW-Authenticate: Bearer` (RFC 6750).
 * - Known token, role too low: 403 FORBIDDEN.
 *
 * Invariants:
 * - Secure by default: a route without a role needs admin, except the public service paths of
 *   API.md (PUBLIC_PATHS). Unknown paths are not checked: they answer 404 ROUTE_NOT_FOUND.
 * - Tokens are compared in constant time: the presented token's SHA-256 is compared with every
 *   configured token's SHA-256 by timingSafeEqual, without stopping at a match, so neither the
 *   token's content nor its position leaks through timing.
 * - A token never appears in a log line or an answer.
 */
import { createHash, timingSafeEqual } from 'node:crypto'

import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'

import { httpError } from '../errors.js'
import type { Role, RouteRole, TokenEntry } from '../options.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role a route needs (plugins/auth.ts). */
    role?: RouteRole
  }
}

/** API.md: these need no token. */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json'])

const ROLE_RANK: Record<RouteRole, number> = { none: 0, read: 1, write: 2, admin: 3 }
const BEARER = /^Bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i
const CHALLENGE = 'Bearer realm="strata"'

export interface AuthPluginOptions {
  tokens: readonly TokenEntry[]
}

interface HashedToken {
  digest: Buffer
  role: Role
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/** The role of `token`, or undefined; constant time in the token and the number of matches. */
export function roleOfToken(hashed: readonly HashedToken[], token: string): Role | undefined {
  const digest = sha256(token)
  let found: Role | undefined
  for (const entry of hashed) {
    const equal = timingSafeEqual(entry.digest, digest)
    if (equal && found === undefined) found = entry.role
  }
  return found
}

/** The role a route needs (see the invariants). */
export function requiredRole(request: FastifyRequest): RouteRole | undefined {
  const url = request.routeOptions.url
  if (url === undefined) return undefined // no route matched: 404
  const role = request.routeOptions.config.role
  if (role !== undefined) return role
  return PUBLIC_PATHS.has(url) ? 'none' : 'admin'
}

async function authPluginImpl(app: FastifyInstance, options: AuthPluginOptions): Promise<void> {
  const hashed: HashedToken[] = options.tokens.map((t) => ({ digest: sha256(t.token), role: t.role }))
  if (hashed.length === 0) return
  app.addHook('onRequest', async (request) => {
    const needed = requiredRole(request)
    if (needed === undefined || needed === 'none') return
    const header = request.headers.authorization
    if (header === undefined) {
      throw httpError('UNAUTHORIZED', 'this route needs a bearer token (Authorization: Bearer <token>)', { 'www-authenticate': CHALLENGE })
    }
    const match = BEARER.exec(header)
    const role = match === null ? undefined : roleOfToken(hashed, match[1]!)
    if (role === undefined) {
      throw httpError('UNAUTHORIZED', 'the bearer token is not valid', { 'www-authenticate': `${CHALLENGE}, error="invalid_token"` })
    }
    if (ROLE_RANK[role] < ROLE_RANK[needed]) {
      throw httpError('FORBIDDEN', `this route needs the ${needed} role; the token has ${role}`)
    }
  })
}

export const authPlugin: FastifyPluginAsync<AuthPluginOptions> = Object.assign(authPluginImpl, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'strata-auth',
})
