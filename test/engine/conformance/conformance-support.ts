/**
 * Shared pieces of the Tree conformance suite: the factory contract, the per-test tree
 * lifecycle (withTree) and small assertion helpers. Kept apart from tree-conformance.ts so the
 * suite's parts import it without an import cycle.
 */
import t from 'tap'

import { isStrataError } from '../../../src/engine/index.js'
import type { Tree, TreeOptions } from '../../../src/engine/index.js'

/** A tap test object (the one t.test hands to its callback). */
export type TapTest = Parameters<Parameters<typeof t.test>[0]>[0]

/** Options a conformance test may set; the factory supplies the vfs. */
export type ConformanceOptions = Omit<TreeOptions, 'vfs'>

export interface ConformanceTarget {
  /** Opens (creating on first use) the one tree of this target. */
  open(options?: ConformanceOptions): Promise<Tree>
  /** Removes everything the target created. */
  cleanup(): Promise<void>
}

export type ConformanceFactory = () => Promise<ConformanceTarget>

export const KEY_BYTES_MAX = 65535

export const bytes = (s: string): Buffer => Buffer.from(s, 'latin1')

/** Runs `fn` (sync or async) and checks it throws or rejects with StrataError `code`. */
export async function expectCode(t: TapTest, fn: () => unknown, code: string, label: string): Promise<void> {
  try {
    await fn()
  } catch (error) {
    t.ok(isStrataError(error) && error.code === code, `${label}: ${code}`, { got: String(error) })
    return
  }
  t.fail(`${label}: expected ${code}, got success`)
}

/**
 * Opens a fresh target's tree, runs `body`, then closes every tree the body opened (reopens
 * included; close is idempotent) and cleans the target.
 */
export async function withTree(
  factory: ConformanceFactory,
  options: ConformanceOptions,
  body: (tree: Tree, target: ConformanceTarget) => Promise<void>,
): Promise<void> {
  const inner = await factory()
  const opened: Tree[] = []
  const target: ConformanceTarget = {
    open: async (o) => {
      const tree = await inner.open(o)
      opened.push(tree)
      return tree
    },
    cleanup: () => inner.cleanup(),
  }
  try {
    await body(await target.open(options), target)
  } finally {
    for (const tree of opened) await tree.close().catch(() => undefined)
    await inner.cleanup()
  }
}

/** Registers a subtest that gets a fresh tree (the handle may be replaced by the body's reopens). */
export type TreeTest = (
  name: string,
  options: ConformanceOptions,
  body: (t: TapTest, tree: Tree, target: ConformanceTarget) => Promise<void>,
) => void
