/**
 * The OpenAPI document: `openapi.yaml` at the package root, parsed once and served as
 * /openapi.json (routes/service.ts). The file is found relative to this module, not the working
 * directory: src/http/openapi.ts and dist/http/openapi.js both sit two directories below the
 * root, and the package's `files` ships openapi.yaml next to dist/.
 *
 * Invariant: the document returned is the file's content, parsed; a missing or unparsable file is
 * an error at startup (the server never serves a half document).
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

/** Absolute path of openapi.yaml: two levels above this module (src/http or dist/http). */
export const OPENAPI_PATH = fileURLToPath(new URL('../../openapi.yaml', import.meta.url))

export type OpenApiDocument = Record<string, unknown> & {
  openapi: string
  paths: Record<string, Record<string, unknown>>
}

let cached: OpenApiDocument | undefined

/** Reads and parses openapi.yaml (once per process); throws when it is missing or malformed. */
export function loadOpenApiDocument(path: string = OPENAPI_PATH): OpenApiDocument {
  if (path === OPENAPI_PATH && cached !== undefined) return cached
  const parsed: unknown = parse(readFileSync(path, 'utf8'))
  if (typeof parsed !== 'object' || parsed === null) throw new Error('openapi.yaml is not a YAML mapping')
  const document = parsed as Partial<OpenApiDocument>
  if (typeof document.openapi !== 'string') throw new Error('openapi.yaml has no `openapi` version field')
  if (typeof document.paths !== 'object' || document.paths === null) throw new Error('openapi.yaml has no `paths`')
  if (path === OPENAPI_PATH) cached = document as OpenApiDocument
  return document as OpenApiDocument
}
