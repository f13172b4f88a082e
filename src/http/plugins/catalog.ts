/**
 * Catalog plugin: decorates the app with the open Catalog (`app.catalog`) and the snapshot
 * registry (`app.snapshots`), and closes both when the app closes: the registry first (its pins
 * are released), then the catalog (every tree closed cleanly, after in-flight requests ended:
 * Fastify runs onClose hooks once the server has stopped).
 *
 * The plugin skips encapsulation (`skip-override`, what fastify-plugin sets) so every route
 * plugin sees the decorators.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'

import type { Tree } from '../../engine/index.js'
import type { Catalog } from '../../engine/index.js'
import { httpError } from '../errors.js'
import type { SnapshotRegistry } from '../snapshot-registry.js'

/**
 * What the routes use of a catalog: the engine's Catalog on a leader, or a follower's set of
 * replicated copies (src/replication/replica-catalog.ts), which refuses the writes.
 */
export type TreeCatalog = Pick<Catalog, 'dataDir' | 'get' | 'optionsOf' | 'failure' | 'list' | 'failures' | 'create' | 'adopt' | 'drop' | 'close'>

declare module 'fastify' {
  interface FastifyInstance {
    catalog: TreeCatalog
    snapshots: SnapshotRegistry
  }
}

export interface CatalogPluginOptions {
  catalog: TreeCatalog
  snapshots: SnapshotRegistry
}

async function catalogPluginImpl(app: FastifyInstance, options: CatalogPluginOptions): Promise<void> {
  app.decorate('catalog', options.catalog)
  app.decorate('snapshots', options.snapshots)
  app.addHook('onClose', async () => {
    options.snapshots.close()
    await options.catalog.close()
  })
}

export const catalogPlugin: FastifyPluginAsync<CatalogPluginOptions> = Object.assign(catalogPluginImpl, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'strata-catalog',
})

/** The open tree `name`: TREE_NOT_FOUND, or TREE_UNAVAILABLE when it failed to open at startup. */
export function requireTree(catalog: TreeCatalog, name: string): Tree {
  const tree = catalog.get(name)
  if (tree !== undefined) return tree
  if (catalog.failure(name) !== undefined) {
    throw httpError('TREE_UNAVAILABLE', `tree '${name}' could not be opened at startup; see the server log`)
  }
  throw httpError('TREE_NOT_FOUND', `no tree named '${name}'`)
}
