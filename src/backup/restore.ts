/**
 * restoreArchive(source, { dataDir, treeName }): a backup archive (`.tar` or `.tar.zst`) becomes
 * the tree `<dataDir>/<treeName>`, or nothing at all.
 *
 *  1. unpack into a fresh `<dataDir>/.restoring-<hex>/` (extract.ts: every hostile-input check,
 *     every file's size and SHA-256 against BACKUP.json), fsync it;
 *  2. give the tree a new treeId (engine resetTreeId: a new manifest + CURRENT swap), unless
 *     `keepTreeId` (a follower keeps its leader's history id);
 *  3. open it as a tree (proves CURRENT, the manifest and every table's footer; its seqno must
 *     be BACKUP.json's, and with keepTreeId its treeId too), close it;
 *  4. rename the directory to `<dataDir>/<treeName>` (atomic), fsync the data directory.
 * Any failure removes the staging directory: nothing is left behind and nothing is created.
 * A crash leaves only `.restoring-*`, which the catalog removes when it next opens the data
 * directory.
 *
 * Errors: InvalidArchiveError (HTTP 400 INVALID_ARCHIVE) for anything wrong with the archive,
 * including a tree that does not open; StrataError EXISTS when the target exists;
 * INVALID_ARGUMENT for a bad tree name; local I/O errors (disk full) as they come.
 *
 * Concurrency: the caller makes sure no one else creates `<treeName>` meanwhile: the server
 * restores through Catalog.adopt (which reserves the name); `strata restore` holds the data
 * directory's catalog lock.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'

import {
  ErrorCode,
  RESTORING_PREFIX,
  StrataError,
  TREE_OPTIONS_FILE_NAME,
  Tree,
  decodeTreeOptionsFile,
  isStrataError,
  isValidTreeName,
  nodeVfs,
  resetTreeId,
  type CatalogTreeOptions,
  type TreeOptions,
} from '../engine/index.js'
import type { BackupManifest } from './backup-manifest.js'
import { invalidArchive } from './errors.js'
import { extractArchive } from './extract.js'

/** API.md: restore uploads are bounded by --max-restore-bytes, default 1 TiB. */
export const RESTORE_BYTES_MAX_DEFAULT = 1024 ** 4

export interface RestoreOptions {
  /** The data directory (created if missing); the tree lands in `<dataDir>/<treeName>`. */
  dataDir: string
  treeName: string
  /** Bound on the archive's files, its uncompressed tar stream and the raw input (default 1 TiB). */
  maxBytes?: number
  /** Keep BACKUP.json's treeId (a replication follower); by default the tree gets a new one. */
  keepTreeId?: boolean
}

export interface RestoreResult {
  /** `<dataDir>/<treeName>`. */
  dir: string
  manifest: BackupManifest
  /** The restored tree's treeId (new unless keepTreeId). */
  treeId: string
  compressed: boolean
  archiveBytes: number
  /** Options from the archive's OPTIONS.json ({} when it has none). */
  options: CatalogTreeOptions
}

/** Restores `source` into `<dataDir>/<treeName>` (see the file comment). */
export async function restoreArchive(source: AsyncIterable<Uint8Array>, options: RestoreOptions): Promise<RestoreResult> {
  const { dataDir, treeName } = options
  const maxBytes = options.maxBytes ?? RESTORE_BYTES_MAX_DEFAULT
  if (!isValidTreeName(treeName)) throw new StrataError(ErrorCode.INVALID_ARGUMENT, 'tree names match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new StrataError(ErrorCode.INVALID_ARGUMENT, 'maxBytes must be a positive integer')
  await mkdir(dataDir, { recursive: true })
  const target = join(dataDir, treeName)
  if (await exists(target)) throw new StrataError(ErrorCode.EXISTS, `tree '${treeName}' exists`)
  const staging = join(dataDir, `${RESTORING_PREFIX}${randomBytes(8).toString('hex')}`)
  await mkdir(staging) // not recursive: fails if it exists, so the directory is ours and empty
  try {
    const extracted = await extractArchive(source, staging, { maxBytes })
    await nodeVfs.syncDir(staging)
    const treeOptions = await readTreeOptions(staging, extracted.manifest)
    const treeId = await prepareTree(staging, extracted.manifest, treeOptions, options.keepTreeId === true)
    await nodeVfs.syncDir(staging)
    if (await exists(target)) throw new StrataError(ErrorCode.EXISTS, `tree '${treeName}' exists`)
    await rename(staging, target)
    await nodeVfs.syncDir(dataDir)
    return { dir: target, manifest: extracted.manifest, treeId, compressed: extracted.compressed, archiveBytes: extracted.archiveBytes, options: treeOptions }
  } catch (error) {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined)
    throw error
  }
}

async function readTreeOptions(dir: string, manifest: BackupManifest): Promise<CatalogTreeOptions> {
  if (!manifest.files.some((f) => f.path === TREE_OPTIONS_FILE_NAME)) return {}
  try {
    return decodeTreeOptionsFile(await readFile(join(dir, TREE_OPTIONS_FILE_NAME)))
  } catch (error) {
    if (isStrataError(error) && error.code !== 'IO') throw invalidArchive(`${TREE_OPTIONS_FILE_NAME} is not valid: ${error.message}`)
    throw error
  }
}

/** Steps 2 and 3 of the file comment; returns the tree's treeId. */
async function prepareTree(dir: string, manifest: BackupManifest, options: CatalogTreeOptions, keepTreeId: boolean): Promise<string> {
  try {
    if (!keepTreeId) await resetTreeId(dir)
    const treeOptions: TreeOptions = { createIfMissing: false, backgroundThreads: 0, sync: 'none' }
    if (options.mergeOperator !== undefined) treeOptions.mergeOperator = options.mergeOperator
    if (options.compression !== undefined) treeOptions.compression = options.compression
    const tree = await Tree.open(dir, treeOptions)
    const { seqno, treeId } = tree
    await tree.close()
    if (seqno !== manifest.seqno) throw invalidArchive(`the tree opens at seqno ${seqno}, but ${'BACKUP.json'} says ${manifest.seqno}`)
    if (keepTreeId && treeId !== manifest.treeId) throw invalidArchive("the tree's treeId is not the one BACKUP.json names")
    return treeId
  } catch (error) {
    // The archive's bytes matched BACKUP.json, so a tree that does not open is the archive's
    // fault (forged or inconsistent metadata); a local I/O failure is not.
    if (isStrataError(error) && error.code !== 'IO') throw invalidArchive(`the unpacked files do not open as a tree (${error.code}): ${error.message}`)
    throw error
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
}

