/**
 * The Tree conformance suite (abstract-level test/ idea): one reusable set of behaviour tests
 * for the public Tree API, run against every Vfs (conformance/mem-vfs.test.ts,
 * conformance/node-vfs.test.ts). A factory gives each test a fresh, empty tree location.
 *
 * Covered: put/get/delete round trips, missing keys, binary and edge-sized keys, key-length
 * errors, empty and 1 MiB values, overwrites, and the iterator bounds, limit and seek suite
 * (tree-conformance-iterator.ts); snapshots, batches, deleteRange, reads at old seqnos, closed
 * trees, reopen and locking (tree-conformance-lifecycle.ts).
 *
 * Each test states exact expectations written by hand from the API contract, so a failure
 * names the behaviour that broke.
 */
import { ErrorCode } from '../../../src/engine/index.js'

import { Prng } from '../../helpers/prng.js'
import {
  KEY_BYTES_MAX,
  bytes,
  expectCode,
  withTree,
  type ConformanceFactory,
  type TapTest,
  type TreeTest,
} from './conformance-support.js'
import { iteratorTests } from './tree-conformance-iterator.js'
import { lifecycleTests } from './tree-conformance-lifecycle.js'

export type { ConformanceFactory, ConformanceOptions, ConformanceTarget } from './conformance-support.js'

export function runConformance(t: TapTest, name: string, factory: ConformanceFactory): void {
  t.test(name, async (t) => {
    const test: TreeTest = (testName, options, body) => {
      t.test(testName, (t) => withTree(factory, options, (tree, target) => body(t, tree, target)))
    }
    basicTests(test)
    keyAndValueTests(test)
    iteratorTests(test)
    lifecycleTests(test)
  })
}

/** Round trips, buffer ownership, missing and binary keys. */
function basicTests(test: TreeTest): void {
  test('put, get, delete round trip', {}, async (t, tree) => {
    const s1 = await tree.put('a', '1')
    t.ok(Number.isSafeInteger(s1) && s1 > 0, 'put resolves with a seqno')
    t.equal(tree.seqno, s1, 'tree.seqno is the newest write')
    const got = tree.get('a')
    t.ok(Buffer.isBuffer(got), 'get returns a Buffer')
    t.same(got, bytes('1'))
    const s2 = await tree.delete('a')
    t.ok(s2 > s1, 'seqnos increase')
    t.equal(tree.get('a'), undefined, 'deleted')
    await tree.put(new Uint8Array([1, 2, 3]), new Uint8Array([4, 5]))
    t.same(tree.get(Buffer.from([1, 2, 3])), Buffer.from([4, 5]), 'Uint8Array key and value')
    await tree.put('é', 'ü')
    t.same(tree.get(Buffer.from('é', 'utf8')), Buffer.from('ü', 'utf8'), 'strings are UTF-8')
    t.ok((await tree.delete('never-written')) > s2, 'deleting a missing key is a write')
    t.same(tree.iterator().all(), [[Buffer.from([1, 2, 3]), Buffer.from([4, 5])], [Buffer.from('é'), Buffer.from('ü')]])
  })

  test('the tree owns its bytes; callers own returned buffers', {}, async (t, tree) => {
    const key = Buffer.from('key-1')
    const value = Buffer.from('value-1')
    await tree.put(key, value)
    key.write('KEY')
    value.write('VAL')
    t.same(tree.get('key-1'), bytes('value-1'), 'mutating the put arguments afterwards changes nothing')
    const got = tree.get('key-1')!
    got.write('XXXXX')
    t.same(tree.get('key-1'), bytes('value-1'), 'mutating a returned value changes nothing')
    const [entry] = tree.iterator().all()
    entry?.[0].write('ZZZ')
    t.same(tree.iterator().all(), [[bytes('key-1'), bytes('value-1')]], 'mutating a returned key changes nothing')
    const backing = Buffer.from('__key-2__')
    await tree.put(backing.subarray(2, 7), backing.subarray(1, 3))
    t.same(tree.get(new Uint8Array(Buffer.from('key-2'))), bytes('_k'), 'views with an offset are read at their offset')
  })

  test('missing key => undefined', {}, async (t, tree) => {
    t.equal(tree.get('nothing'), undefined, 'empty tree')
    await tree.put('b', 'x')
    for (const k of ['a', 'bb', 'c', '\x00', 'b\x00']) t.equal(tree.get(bytes(k)), undefined, `missing ${JSON.stringify(k)}`)
    await tree.flush()
    for (const k of ['a', 'bb', 'c']) t.equal(tree.get(bytes(k)), undefined, `missing ${JSON.stringify(k)} after flush`)
  })

  test('binary and edge-sized keys', { sync: 'none' }, async (t, tree, target) => {
    const longest = new Prng(7).bytes(KEY_BYTES_MAX)
    const keys = [Buffer.from([0x00]), Buffer.from([0x00, 0x00]), Buffer.from([0x00, 0xff]), Buffer.from([0xff]), Buffer.from([0xff, 0xff]), longest]
    keys.sort(Buffer.compare)
    for (const [i, k] of keys.entries()) await tree.put(k, Buffer.from([i]))
    const expected = keys.map((k, i) => [k, Buffer.from([i])])
    const verify = (label: string): void => {
      for (const [i, k] of keys.entries()) t.same(tree.get(k), Buffer.from([i]), `${label}: key of ${k.length} bytes`)
      t.same(tree.iterator().all(), expected, `${label}: scan order`)
      t.same(tree.iterator({ reverse: true }).all(), [...expected].reverse(), `${label}: reverse scan`)
    }
    verify('memtable')
    await tree.flush()
    verify('flushed')
    await tree.close()
    tree = await target.open({ sync: 'none' })
    verify('reopened')
    await tree.delete(longest)
    t.equal(tree.get(longest), undefined, 'a 65535-byte key deletes')
    await tree.close()
  })
}

/** Key edge cases and errors, values of every size, overwrites. */
function keyAndValueTests(test: TreeTest): void {
  test('key length errors', {}, async (t, tree) => {
    const before = tree.seqno
    const tooLong = Buffer.alloc(KEY_BYTES_MAX + 1, 0x61)
    for (const [label, key] of [['65536-byte key', tooLong], ['empty string key', ''], ['empty buffer key', Buffer.alloc(0)]] as const) {
      await expectCode(t, () => tree.put(key, 'v'), ErrorCode.INVALID_ARGUMENT, `put ${label}`)
      await expectCode(t, () => tree.get(key), ErrorCode.INVALID_ARGUMENT, `get ${label}`)
      await expectCode(t, () => tree.delete(key), ErrorCode.INVALID_ARGUMENT, `delete ${label}`)
      await expectCode(t, () => tree.deleteRange(key, 'z'), ErrorCode.INVALID_ARGUMENT, `deleteRange start ${label}`)
      await expectCode(t, async () => tree.batch().put('ok', 'v').put(key, 'v').write(), ErrorCode.INVALID_ARGUMENT, `batch ${label}`)
    }
    t.equal(tree.get('ok'), undefined, 'a rejected batch writes nothing')
    t.equal(tree.seqno, before, 'no rejected write took a seqno')
  })

  test('empty value', {}, async (t, tree, target) => {
    await tree.put('e', '')
    await tree.put('f', Buffer.alloc(0))
    const check = (label: string): void => {
      for (const k of ['e', 'f']) {
        const v = tree.get(k)
        t.ok(v !== undefined && v.length === 0, `${label}: ${k} is present and empty`)
      }
      t.same(tree.iterator().all(), [[bytes('e'), Buffer.alloc(0)], [bytes('f'), Buffer.alloc(0)]], `${label}: scan`)
    }
    check('memtable')
    await tree.flush()
    check('flushed')
    await tree.close()
    tree = await target.open()
    check('reopened')
    await tree.compact()
    check('compacted')
    await tree.close()
  })

  test('large value (1 MiB)', {}, async (t, tree, target) => {
    const big = new Prng(11).bytes(1024 * 1024)
    await tree.put('big', big)
    await tree.put('small', 's')
    t.ok(tree.get('big')?.equals(big), 'memtable')
    await tree.flush()
    t.ok(tree.get('big')?.equals(big), 'flushed')
    await tree.close()
    tree = await target.open()
    t.ok(tree.get('big')?.equals(big), 'reopened')
    const all = tree.iterator().all()
    t.equal(all.length, 2)
    t.ok(all[0]?.[1].equals(big), 'scan returns the whole value')
    await tree.close()
  })

  test('overwrite', { memtableBytes: 4096 }, async (t, tree) => {
    await tree.put('a', '1')
    await tree.put('a', '2')
    t.same(tree.get('a'), bytes('2'), 'in the memtable')
    await tree.flush()
    await tree.put('a', '3')
    t.same(tree.get('a'), bytes('3'), 'memtable over table')
    await tree.flush()
    t.same(tree.get('a'), bytes('3'), 'newer table over older')
    await tree.compact()
    t.same(tree.get('a'), bytes('3'), 'compacted')
    await tree.delete('a')
    t.equal(tree.get('a'), undefined, 'delete over compacted value')
    await tree.put('a', '4')
    t.same(tree.get('a'), bytes('4'), 'put after delete')
    t.same(tree.iterator().all(), [[bytes('a'), bytes('4')]], 'one entry per key in a scan')
  })
}
