/**
 * Error answers: every error of every route, hook and Fastify internal becomes Fastify's shape
 * { statusCode, code, error, message } with a code from the registry (../errors.ts), and every
 * unknown route 404 ROUTE_NOT_FOUND in the same shape.
 *
 * Mapping, in order:
 * - HttpError: as is (with its headers, e.g. WWW-Authenticate).
 * - Engine StrataError: by its code (fromEngineError).
 * - Schema validation: VALIDATION_ERROR; on a `tree` path parameter INVALID_TREE_NAME; on a body,
 *   the route's `config.validationCode` if it names one (PUT /v1/trees/{tree}: INVALID_OPTION).
 * - Fastify body errors: too large 413 BODY_TOO_LARGE, wrong content type 415
 *   UNSUPPORTED_MEDIA_TYPE, bad or empty JSON 400 INVALID_JSON, other 4xx 400 BAD_REQUEST.
 * - Anything else: 500 INTERNAL with a fixed message; the error itself goes to the log.
 *
 * Invariant: no answer carries a stack, a path or key bytes (see ../errors.ts); messages of
 * Fastify's own errors are replaced by ours (Fastify's 404 and bad-URL messages echo the URL).
 */
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'

import { HttpError, errorBody, fromEngineError, httpError, publicMessage, type HttpErrorCode } from '../errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The code of a body schema failure on this route (default VALIDATION_ERROR). */
    validationCode?: HttpErrorCode
  }
}

const FASTIFY_CODES: Record<string, [HttpErrorCode, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['BODY_TOO_LARGE', 'the request body is over the limit'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'this route does not take this Content-Type'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['INVALID_JSON', 'the body is empty but Content-Type is application/json'],
  FST_ERR_CTP_INVALID_JSON_BODY: ['INVALID_JSON', 'the body is not valid JSON'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['BAD_REQUEST', 'the body size does not match Content-Length'],
  FST_ERR_BAD_URL: ['INVALID_URL', 'the path is not a valid percent-encoded URL'],
  FST_ERR_MAX_PARAM_LENGTH: ['URI_TOO_LONG', 'a path parameter is too long'],
}

interface ValidationIssue {
  instancePath?: string
  keyword?: string
  params?: Record<string, unknown>
}

function validationError(error: FastifyError, request: FastifyRequest): HttpError {
  const context = error.validationContext
  const first = (error.validation?.[0] ?? {}) as ValidationIssue
  if (context === 'params' && first.instancePath === '/tree') {
    return httpError('INVALID_TREE_NAME', 'tree names match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
  }
  const code = context === 'body' ? request.routeOptions.config?.validationCode : undefined
  if (code === 'INVALID_OPTION' && first.keyword === 'additionalProperties') {
    return httpError(code, `unknown tree option '${String(first.params?.['additionalProperty'])}'`)
  }
  // Ajv's messages name the field and the rule (`body/ops/0/key must be string`), never the value.
  return httpError(code ?? 'VALIDATION_ERROR', error.message)
}

/** The HttpError to answer for `error` (see the file comment). */
export function toHttpError(error: unknown, request: FastifyRequest): HttpError {
  if (error instanceof HttpError) return error
  const engine = fromEngineError(error)
  if (engine !== undefined) return engine
  const e = error as FastifyError
  if (e !== null && typeof e === 'object' && Array.isArray(e.validation)) return validationError(e, request)
  const known = typeof e?.code === 'string' ? FASTIFY_CODES[e.code] : undefined
  if (known !== undefined) return httpError(known[0], known[1])
  if (e instanceof SyntaxError && e.statusCode === 400) return httpError('INVALID_JSON', 'the body is not valid JSON')
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return httpError('BAD_REQUEST', 'bad request')
  return httpError('INTERNAL', publicMessage('INTERNAL', ''))
}

function send(reply: FastifyReply, error: HttpError): void {
  reply.code(error.statusCode)
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value)
  void reply.send(errorBody(error.code, publicMessage(error.code, error.message)))
}

/** For Fastify's `frameworkErrors` option (bad URLs, over-long parameters): same shape, no echo of the URL. */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const mapped = toHttpError(error, request)
  send(reply, mapped)
}

async function errorHandlerPluginImpl(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error, request, reply) => {
    const mapped = toHttpError(error, request)
    if (mapped.statusCode >= 500) request.log.error({ err: error, code: mapped.code }, 'request failed')
    send(reply, mapped)
  })
  app.setNotFoundHandler((request, reply) => {
    send(reply, httpError('ROUTE_NOT_FOUND', `no route for ${request.method} on this path`))
  })
}

export const errorHandlerPlugin: FastifyPluginAsync = Object.assign(errorHandlerPluginImpl, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'strata-error-handler',
})
