import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseProxyHeader } from "../../../../../services/ca/http/proxy-protocol.js";

const SIG = Buffer.from("0d0a0d0a000d0a515549540a", "hex");

/** A PROXY v2 header (proxy-protocol.txt 2.2): command, family/protocol byte, address block. */
function v2(command: number, famProto: number, block: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(block.length);
  return Buffer.concat([SIG, Buffer.from([0x20 | command, famProto]), len, block]);
}
const tcp4 = Buffer.from([10, 1, 2, 3, 10, 0, 0, 1, 0x15, 0xb3, 0x01, 0xbb]);
const tcp6 = Buffer.concat([
  Buffer.from("20010db8000000000000000000000001", "hex"),
  Buffer.from("20010db8000000000000000000000002", "hex"),
  Buffer.from([0x15, 0xb3, 0x01, 0xbb]),
]);

describe("parseProxyHeader", () => {
  test("v1 TCP4 and TCP6: the source address, and the header's length up to its CRLF", () => {
    const h = Buffer.from("PROXY TCP4 192.0.2.7 10.0.0.1 56324 8443\r\n\x16\x03\x01");
    assert.deepEqual(parseProxyHeader(h), { length: h.length - 3, address: "192.0.2.7" });
    const h6 = Buffer.from("PROXY TCP6 2001:DB8:0:0::7 2001:db8::1 56324 8443\r\n");
    assert.deepEqual(parseProxyHeader(h6), { length: h6.length, address: "2001:db8::7" });
  });

  test("v1 UNKNOWN: no address; v1 incomplete: null until the CRLF", () => {
    assert.deepEqual(parseProxyHeader(Buffer.from("PROXY UNKNOWN\r\n")), { length: 15, address: null });
    assert.equal(parseProxyHeader(Buffer.from("PROXY TCP4 192.0.2.7 10.0")), null);
    assert.equal(parseProxyHeader(Buffer.from("PRO")), null);
  });

  test("v2 PROXY over TCP4 and TCP6 (TLVs after the addresses skipped), and LOCAL", () => {
    const withTlv = Buffer.concat([tcp4, Buffer.from([0x04, 0x00, 0x01, 0x00])]);
    const h = Buffer.concat([v2(1, 0x11, withTlv), Buffer.from([0x16])]);
    assert.deepEqual(parseProxyHeader(h), { length: 16 + withTlv.length, address: "10.1.2.3" });
    assert.deepEqual(parseProxyHeader(v2(1, 0x21, tcp6)), { length: 16 + 36, address: "2001:db8::1" });
    assert.deepEqual(parseProxyHeader(v2(0, 0x00, Buffer.alloc(0))), { length: 16, address: null });
    assert.deepEqual(parseProxyHeader(v2(1, 0x00, Buffer.alloc(0))), { length: 16, address: null });
  });

  test("v2 incomplete: null until the whole address block is there", () => {
    const h = v2(1, 0x11, tcp4);
    for (const n of [1, 12, 15, 16, h.length - 1])
      assert.equal(parseProxyHeader(h.subarray(0, n)), null, String(n));
  });

  test("anything else is refused: TLS without a header, a bad version, a bad v1 line", () => {
    const refused = [
      Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]),
      Buffer.from("GET / HTTP/1.1\r\n"),
      Buffer.concat([SIG, Buffer.from([0x11, 0x11, 0, 0])]),
      Buffer.concat([SIG, Buffer.from([0x2f, 0x11, 0, 0])]),
      Buffer.from("PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n"),
      Buffer.from("PROXY TCP4 300.0.0.1 10.0.0.1 1 2\r\n"),
      Buffer.from("PROXY TCP4 192.0.2.7\r\n"),
      Buffer.from(`PROXY TCP4 ${"1".repeat(120)}`),
    ];
    for (const b of refused) assert.throws(() => parseProxyHeader(b), Error, b.toString("latin1"));
  });
});
