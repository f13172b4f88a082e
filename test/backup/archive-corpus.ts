/**
 * Test helpers for backups: a small real tree and its archive, a tar builder that writes any
 * entry (hostile ones included), and the hostile-archive corpus shared by the restore tests of
 * src/backup (test/backup/restore.test.ts) and of the HTTP endpoint (test/http/restore.test.ts).
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import tar from 'tar-stream'
import binding from 'zstd-napi/binding.js'

import { archiveStream, describeCheckpoint, encodeBackupManifest, type BackupManifest } from '../../src/backup/index.js'
import { Tree, encodeTreeOptionsFile } from '../../src/engine/index.js'

export interface SourceTree {
  root: string
  /** The archive (tar) of a checkpoint of the tree. */
  archive: Buffer
  /** The same, zstd-compressed. */
  compressed: Buffer
  manifest: BackupManifest
  /** The file bytes of the checkpoint, by name. */
  files: Map<string, Buffer>
  /** key -> value at the checkpoint's seqno. */
  entries: Map<string, string>
  remove(): void
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}

/** A counter tree with a few tables, checkpointed and archived (tar and tar.zst). */
export async function makeSourceTree(keys = 600): Promise<SourceTree> {
  const root = mkdtempSync(join(tmpdir(), 'strata-backup-src-'))
  const tree = await Tree.open(join(root, 'live'), { memtableBytes: 16 * 1024, tableBytes: 32 * 1024, blockBytes: 1024, backgroundThreads: 0, sync: 'none' })
  const entries = new Map<string, string>()
  for (let i = 0; i < keys; i++) {
    const key = `key-${String(i).padStart(5, '0')}`
    const value = `value-${i}-${'x'.repeat(i % 50)}`
    await tree.put(key, value)
    entries.set(key, value)
  }
  const dir = join(root, 'checkpoint')
  const result = await tree.checkpoint(dir)
  const { writeFileSync, readFileSync, readdirSync } = await import('node:fs')
  writeFileSync(join(dir, 'OPTIONS.json'), encodeTreeOptionsFile({}))
  const source = await describeCheckpoint(dir, { tree: 'source', treeId: tree.treeId, seqno: result.seqno, versionId: result.versionId })
  await tree.close()
  const archive = await collect(archiveStream(source, 'none'))
  const compressed = await collect(archiveStream(source, 'zstd'))
  const files = new Map(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]))
  return { root, archive, compressed, manifest: source.manifest, files, entries, remove: () => rmSync(root, { recursive: true, force: true }) }
}

export interface RawEntry {
  name: string
  data?: Buffer
  type?: tar.Header['type']
  linkname?: string
  /** Header size when it must differ from data.length (a lying header). */
  size?: number
  pax?: Record<string, string>
}

/** A tar of exactly these entries (tar-stream's pack: it writes whatever it is given). */
export async function buildTar(entries: readonly RawEntry[], options: { endMarker?: boolean } = {}): Promise<Buffer> {
  const pack = tar.pack()
  const out = collect(pack as unknown as AsyncIterable<Uint8Array>)
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const header: tar.Header = {
        name: e.name,
        type: e.type ?? 'file',
        mode: 0o644,
        mtime: new Date(0),
        size: e.size ?? e.data?.length ?? 0,
        linkname: e.linkname ?? '',
        uid: 0, gid: 0, uname: '', gname: '', devmajor: 0, devminor: 0,
        ...(e.pax === undefined ? {} : { pax: e.pax }),
      }
      const fileLike = header.type === 'file' || header.type === 'contiguous-file'
      if (fileLike && e.data !== undefined && e.size === undefined) pack.entry(header, e.data, (err) => (err ? reject(err) : resolve()))
      else {
        const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()))
        if (fileLike && e.data !== undefined) sink.write(e.data)
        sink.end(undefined)
      }
    }).catch(() => undefined) // a lying size makes pack complain; the bytes are what we want
  }
  pack.finalize()
  const bytes = await out
  // Without the end marker: cut the two zero blocks tar-stream writes at the end.
  return options.endMarker === false ? bytes.subarray(0, bytes.length - 1024) : bytes
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

/** BACKUP.json bytes of `manifest` without validation (for broken manifests). */
export function rawManifest(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value))
}

/** The source's entries as RawEntry[] (BACKUP.json first), to edit into hostile variants. */
export function sourceEntries(src: SourceTree, manifest: BackupManifest = src.manifest): RawEntry[] {
  return [
    { name: 'BACKUP.json', data: encodeBackupManifest(manifest) },
    ...manifest.files.map((f) => ({ name: f.path, data: src.files.get(f.path) ?? Buffer.alloc(f.size) })),
  ]
}

/** A zstd frame of `data` with the given window log (large windows must be refused). */
export function zstdWithWindow(data: Buffer, windowLog: number): Buffer {
  const cctx = new binding.CCtx()
  cctx.setParameter(binding.CParameter.windowLog, windowLog)
  const out: Buffer[] = []
  // `continue` first: the size is unknown when the frame header is written, so it declares the window.
  let src: Buffer = data
  while (src.length > 0) {
    const dst = Buffer.allocUnsafe(binding.cStreamOutSize())
    const [, produced, consumed] = cctx.compressStream2(dst, src, binding.EndDirective.continue)
    out.push(dst.subarray(0, produced))
    src = src.subarray(consumed)
  }
  for (;;) {
    const dst = Buffer.allocUnsafe(binding.cStreamOutSize())
    const [remaining, produced] = cctx.compressStream2(dst, Buffer.alloc(0), binding.EndDirective.end)
    out.push(dst.subarray(0, produced))
    if (remaining === 0) break
  }
  return Buffer.concat(out)
}

export interface HostileCase {
  name: string
  archive: Buffer
  /** What the InvalidArchiveError message says (src/backup tests check it). */
  reason: RegExp
}

/** Every rejection rule of src/backup/extract.ts and restore.ts, built from a real archive. */
export async function hostileCorpus(src: SourceTree, escapeName: string): Promise<HostileCase[]> {
  const m = src.manifest
  const table = m.files.find((f) => f.path.endsWith('.sst'))!
  const tableData = src.files.get(table.path)!
  const good = sourceEntries(src)
  const withManifest = (manifest: unknown, rest: RawEntry[] = good.slice(1)) => buildTar([{ name: 'BACKUP.json', data: rawManifest(manifest) }, ...rest])
  const listing = (extra: { path: string; size: number; sha256: string }[]) => ({ ...m, files: [...m.files, ...extra] })
  const evil = Buffer.from('evil')
  const badOptions = Buffer.from('{"formatVersion":1,"options":{"mergeOperator":"nope"}}')
  const evilFile = { size: evil.length, sha256: sha256(evil) }
  const cases: [string, Buffer | Promise<Buffer>, RegExp][] = [
    ['empty input', Buffer.alloc(0), /empty|ends early/],
    ['random bytes', randomBytes(4096), /damaged|tar header|ends early/],
    ['a zstd frame of random bytes', zstdWithWindow(randomBytes(4096), 20), /damaged|tar header|ends early/],
    ['BACKUP.json not first', buildTar([good[1]!, good[0]!, ...good.slice(2)]), /first entry is not BACKUP\.json/],
    ['no BACKUP.json at all', buildTar(good.slice(1)), /first entry is not BACKUP\.json/],
    ['BACKUP.json not JSON', buildTar([{ name: 'BACKUP.json', data: Buffer.from('{nope') }, ...good.slice(1)]), /not valid UTF-8 JSON/],
    ['BACKUP.json with an unknown field', withManifest({ ...m, extra: 1 }), /unknown field "extra"/],
    ['BACKUP.json of another format version', withManifest({ ...m, formatVersion: 2 }), /format version 2 is not supported/],
    ['BACKUP.json with a string seqno', withManifest({ ...m, seqno: String(m.seqno) }), /seqno is not a non-negative integer/],
    ['BACKUP.json with uppercase sha256', withManifest({ ...m, files: m.files.map((f) => ({ ...f, sha256: f.sha256.toUpperCase() })) }), /sha256/],
    ['BACKUP.json listing a file twice', withManifest({ ...m, files: [...m.files, m.files[0]] }), /listed twice/],
    ['BACKUP.json listing an absolute path', withManifest(listing([{ path: '/tmp/x', ...evilFile }])), /absolute path/],
    ['BACKUP.json listing a .. path', withManifest(listing([{ path: '../x', ...evilFile }])), /'\.\.' segment/],
    ['BACKUP.json listing a file over the entry bound', withManifest(listing([{ path: 'big.sst', size: 2 ** 40, sha256: '0'.repeat(64) }])), /over|limit/],
    ['BACKUP.json with no files', withManifest({ ...m, files: [] }), /files is empty/],
    ['BACKUP.json over its size bound', buildTar([{ name: 'BACKUP.json', data: Buffer.alloc(16 * 1024 * 1024 + 1, 0x20) }]), /BACKUP\.json is over/],
    ['an absolute entry path', buildTar([{ name: 'BACKUP.json', data: rawManifest(m) }, ...good.slice(1), { name: `/tmp/${escapeName}`, data: evil }]), /absolute path/],
    ['a .. entry path', buildTar([...good, { name: `../${escapeName}`, data: evil }]), /'\.\.' segment/],
    ['a .. path through a pax header', buildTar([...good, { name: 'innocent', data: evil, pax: { path: `../${escapeName}` } }]), /'\.\.' segment/],
    ['a long GNU-style .. path', buildTar([...good, { name: `${'../'.repeat(60)}${escapeName}`, data: evil }]), /'\.\.' segment/],
    ['an entry in a sub-directory', buildTar([...good, { name: `sub/${escapeName}`, data: evil }]), /not a plain file name/],
    ['a directory entry', buildTar([good[0]!, { name: 'dir', type: 'directory' }, ...good.slice(1)]), /only regular files/],
    ['a symlink entry (listed name)', buildTar([good[0]!, { name: table.path, type: 'symlink', linkname: '/etc/passwd' }, ...good.slice(2)]), /symlink/],
    ['a hard link entry', buildTar([...good.slice(0, -1), { name: good.at(-1)!.name, type: 'link', linkname: table.path }]), /link/],
    ['a character device', buildTar([...good, { name: 'tty', type: 'character-device' }]), /character-device/],
    ['a block device', buildTar([...good, { name: 'disk', type: 'block-device' }]), /block-device/],
    ['a fifo', buildTar([...good, { name: 'pipe', type: 'fifo' }]), /fifo/],
    ['a contiguous file', buildTar([good[0]!, { name: table.path, type: 'contiguous-file', data: tableData }, ...good.slice(2)]), /contiguous-file/],
    ['a duplicate entry', buildTar([...good, good[1]!]), /appears twice/],
    ['a second BACKUP.json', buildTar([...good, good[0]!]), /appears twice/],
    ['an entry not listed', buildTar([...good, { name: escapeName, data: evil }]), /not listed in BACKUP\.json/],
    ['a listed file missing', buildTar(good.filter((e) => e.name !== table.path)), /listed in BACKUP\.json but not in the archive/],
    ['a size mismatch', buildTar(good.map((e) => (e.name === table.path ? { ...e, data: Buffer.concat([tableData, Buffer.from('x')]) } : e))), /bytes in the archive but/],
    ['a SHA-256 mismatch (same size)', buildTar(good.map((e) => (e.name === table.path ? { ...e, data: flip(tableData, 100) } : e))), /does not match its SHA-256/],
    ['no end-of-archive marker', buildTar(good, { endMarker: false }), /no end-of-archive marker/],
    ['garbage after the end marker', Promise.resolve(buildTar(good)).then((b) => Buffer.concat([b, Buffer.alloc(512, 0x41)])), /damaged|tar header/],
    ['a valid archive with the wrong seqno', withManifest({ ...m, seqno: m.seqno + 1 }), /opens at seqno/],
    ['files that do not open as a tree', buildTar([{ name: 'BACKUP.json', data: rawManifest({ ...m, files: [{ path: 'CURRENT', size: 16, sha256: sha256(Buffer.from('MANIFEST-000099\n')) }] }) }, { name: 'CURRENT', data: Buffer.from('MANIFEST-000099\n') }]), /do not open as a tree/],
    ['a bad OPTIONS.json', withManifest(
      { ...m, files: m.files.map((f) => (f.path === 'OPTIONS.json' ? { ...f, size: badOptions.length, sha256: sha256(badOptions) } : f)) },
      good.slice(1).map((e) => (e.name === 'OPTIONS.json' ? { ...e, data: badOptions } : e)),
    ), /OPTIONS\.json is not valid/],
    ['a zstd frame with a 128 MiB window', zstdWithWindow(src.archive, 27), /damaged|window/i],
    ['truncated zstd', src.compressed.subarray(0, src.compressed.length - 10), /truncated|ends early|damaged/],
  ]
  const out: HostileCase[] = []
  for (const [name, archive, reason] of cases) out.push({ name, archive: await archive, reason })
  // Truncations at block boundaries and inside blocks, of the tar and of the tar.zst.
  for (const cut of [1, 511, 512, 513, 1024, 2048, src.archive.length - 1025, src.archive.length - 1024, src.archive.length - 513, src.archive.length - 1]) {
    out.push({ name: `tar truncated to ${cut} bytes`, archive: src.archive.subarray(0, cut), reason: /truncated|ends early|damaged|end-of-archive/ })
  }
  for (const cut of [3, 4, 20, Math.floor(src.compressed.length / 2)]) {
    out.push({ name: `tar.zst truncated to ${cut} bytes`, archive: src.compressed.subarray(0, cut), reason: /truncated|ends early|damaged|tar header/ })
  }
  return out
}

export function flip(data: Buffer, offset: number, mask = 0xff): Buffer {
  const copy = Buffer.from(data)
  copy[offset] = (copy[offset] ?? 0) ^ mask
  return copy
}
