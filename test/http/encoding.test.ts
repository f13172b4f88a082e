// encoding.ts at the byte level: the fast paths (plain path segments, ASCII answers, the
// lone-surrogate check) give exactly what the general paths give.
import t from 'tap'
import { decodeText, encodeBytes, percentDecode } from '../../src/http/encoding.js'

t.test('percentDecode: plain segments, escapes, latin1 and wider characters', async (t) => {
  t.same(percentDecode('hot'), Buffer.from('hot'))
  t.same(percentDecode('a%2Fb%FF%00'), Buffer.from([0x61, 0x2f, 0x62, 0xff, 0x00]))
  t.same(percentDecode('\u00e9'), Buffer.from([0xe9]), 'a latin1 character is its byte (Node hands paths over as latin1)')
  t.same(percentDecode('\u20ac%41'), Buffer.from([0xe2, 0x82, 0xac, 0x41]), 'above U+00FF: UTF-8')
  t.same(percentDecode('x\u{1F600}'), Buffer.from('x\u{1F600}', 'utf8'))
  t.equal(percentDecode('bad%4'), undefined)
  t.equal(percentDecode('bad%zz'), undefined)
})

t.test('encodeBytes: ASCII, multi-byte UTF-8, invalid UTF-8 and base64', async (t) => {
  t.equal(encodeBytes(Buffer.from('plain ascii ~'), 'utf8', 'key'), 'plain ascii ~')
  t.equal(encodeBytes(Buffer.from('caf\u00e9 \u{1F600}', 'utf8'), 'utf8', 'key'), 'caf\u00e9 \u{1F600}')
  t.equal(encodeBytes(new Uint8Array([0x68, 0x69]), 'utf8', 'key'), 'hi', 'a Uint8Array too')
  t.throws(() => encodeBytes(Buffer.from([0x61, 0xff]), 'utf8', 'value'), { code: 'INVALID_ENCODING' })
  t.equal(encodeBytes(Buffer.from([0x61, 0xff]), 'base64', 'value'), 'Yf8=')
})

t.test('decodeText: lone surrogates are refused, pairs are UTF-8', async (t) => {
  t.same(decodeText('\u{1F600}', 'utf8', 'key'), Buffer.from([0xf0, 0x9f, 0x98, 0x80]))
  for (const lone of ['\ud800', 'a\udfffb', '\ud83d']) {
    t.throws(() => decodeText(lone, 'utf8', 'ops[0].key'), { code: 'INVALID_ENCODING' })
  }
  t.same(decodeText('YWI=', 'base64', 'key'), Buffer.from('ab'))
})
