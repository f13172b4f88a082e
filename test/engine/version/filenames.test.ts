/**
 * File names of a tree directory: formatting (6-digit padding, wider when larger) and
 * parseFileName round trips; names Strata does not write are not recognized.
 */
import t from 'tap'

import { AssertionError } from '../../../src/engine/base/assert.js'
import {
  blobFileName,
  manifestFileName,
  parseFileName,
  pathInDir,
  tableFileName,
  walFileName,
} from '../../../src/engine/filenames.js'

t.test('formatting', async (tt) => {
  tt.equal(tableFileName(13), '000013.sst')
  tt.equal(walFileName(12), '000012.log')
  tt.equal(blobFileName(14), '000014.blob')
  tt.equal(manifestFileName(1), 'MANIFEST-000001')
  tt.equal(tableFileName(999_999), '999999.sst')
  tt.equal(tableFileName(1_000_000), '1000000.sst', 'wider when larger')
  tt.equal(walFileName(Number.MAX_SAFE_INTEGER), '9007199254740991.log')
  tt.throws(() => tableFileName(0), AssertionError)
  tt.throws(() => tableFileName(1.5), AssertionError)
  tt.throws(() => manifestFileName(-1), AssertionError)
})

t.test('parse round trips', async (tt) => {
  for (const n of [1, 7, 999_999, 1_000_000, 123_456_789, Number.MAX_SAFE_INTEGER]) {
    tt.same(parseFileName(tableFileName(n)), { type: 'table', number: n })
    tt.same(parseFileName(walFileName(n)), { type: 'wal', number: n })
    tt.same(parseFileName(blobFileName(n)), { type: 'blob', number: n })
    tt.same(parseFileName(manifestFileName(n)), { type: 'manifest', number: n })
  }
  tt.same(parseFileName('CURRENT'), { type: 'current' })
  tt.same(parseFileName('LOCK'), { type: 'lock' })
  tt.same(parseFileName('OPTIONS'), { type: 'options' })
  tt.same(parseFileName('CURRENT.tmp'), { type: 'temp' })
  tt.same(parseFileName('000012.sst.tmp'), { type: 'temp' })
})

t.test('names Strata never writes', async (tt) => {
  const foreign = [
    '', '.tmp', 'current', 'LOCK2', '12.sst', '00012.sst', '0000012.sst', '000000.sst', 'MANIFEST-', 'MANIFEST-12',
    'MANIFEST-000001x', 'MANIFEST-0000001', '000012.SST', '000012.ldb', 'x000012.log', '00001a.log',
    '99999999999999999.sst', '+00012.log', '000012', 'README', '000012.log.bak',
  ]
  for (const name of foreign) tt.equal(parseFileName(name), undefined, JSON.stringify(name))
})

t.test('pathInDir', async (tt) => {
  tt.equal(pathInDir('/data/tree', 'CURRENT'), '/data/tree/CURRENT')
  tt.equal(pathInDir('/data/tree/', 'CURRENT'), '/data/tree/CURRENT')
  tt.equal(pathInDir('rel', '000001.log'), 'rel/000001.log')
  tt.throws(() => pathInDir('/d', 'a/b'), AssertionError)
  tt.throws(() => pathInDir('/d', ''), AssertionError)
})
