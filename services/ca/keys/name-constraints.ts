import { explicit, seq, tlv } from "../../../shared/x509/der.js";
import { type IpRange, ipToBytes } from "../core/names.js";

/**
 * RFC 5280 4.2.1.10 NameConstraints with permitted subtrees only:
 * SEQUENCE { permittedSubtrees [0] GeneralSubtrees }, each GeneralSubtree a SEQUENCE holding a
 * dNSName [2] or an iPAddress [7] of address then mask.
 */
export function nameConstraintsExtension(dnsSuffixes: readonly string[], ranges: readonly IpRange[]): Buffer {
  const subtrees = [
    ...dnsSuffixes.map((d) => seq(tlv(0x82, Buffer.from(d.replace(/^\./, "").toLowerCase(), "ascii")))),
    ...ranges.map((r) =>
      seq(tlv(0x87, ipToBytes(r.address), prefixMask(r.prefix, r.family === "ipv4" ? 4 : 16))),
    ),
  ];
  return seq(explicit(0, ...subtrees));
}

function prefixMask(prefix: number, octets: number): Buffer {
  const mask = Buffer.alloc(octets);
  for (let i = 0; i < octets; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    mask[i] = (0xff << (8 - bits)) & 0xff;
  }
  return mask;
}
