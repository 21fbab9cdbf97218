import { extension } from "../../../shared/x509/cert.js";
import { children, contentOf, explicit, readElement, seq, tlv } from "../../../shared/x509/der.js";
import { type IpRange, ipFromBytes, ipToBytes } from "../core/names.js";
import type { Constraints } from "../core/policy.js";

const NAME_CONSTRAINTS = "2.5.29.30";

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

/**
 * The constraints the intermediate certificate carries: what relying parties enforce (RFC 5280
 * 6.1.4 (g)), so what the CA must issue within, whatever ca.json says. Only permitted dNSName
 * and iPAddress subtrees are understood. An intermediate with excluded subtrees, or whose
 * permitted subtrees restrict other name forms, cannot be honoured by this CA's checks, so it
 * is refused rather than issued under looser rules than its verifiers apply.
 */
export function constraintsOf(intermediateDer: Uint8Array, file: string): Constraints {
  const ext = extension(intermediateDer, NAME_CONSTRAINTS);
  if (!ext) return { dns: [], ips: [] };
  const refuse = (why: string) => new Error(`${file}: name constraints ${why}; certyard cannot honour them`);
  const value = ext.value;
  const top = readElement(value, 0);
  const dns: string[] = [];
  const ips: IpRange[] = [];
  for (const part of children(value, top)) {
    if (part.tag === 0xa1) throw refuse("have excluded subtrees");
    if (part.tag !== 0xa0) throw refuse("are malformed");
    for (const subtree of children(value, part)) {
      const [base, ...rest] = children(value, subtree);
      // minimum [0] and maximum [1] must be absent (RFC 5280 4.2.1.10: "MUST NOT be used")
      if (!base || rest.length > 0) throw refuse("use minimum or maximum");
      const content = contentOf(value, base);
      if (base.tag === 0x82) {
        dns.push(Buffer.from(content).toString("ascii").replace(/^\./, "").toLowerCase());
      } else if (base.tag === 0x87 && (content.length === 8 || content.length === 32)) {
        const half = content.length / 2;
        const prefix = maskPrefix(content.subarray(half));
        if (prefix === null) throw refuse("have a non-contiguous IP mask");
        ips.push({
          address: ipFromBytes(content.subarray(0, half)),
          prefix,
          family: half === 4 ? "ipv4" : "ipv6",
        });
      } else {
        throw refuse(
          `constrain a name form other than dNSName and iPAddress (tag 0x${base.tag.toString(16)})`,
        );
      }
    }
  }
  return { dns, ips };
}

function prefixMask(prefix: number, octets: number): Buffer {
  const mask = Buffer.alloc(octets);
  for (let i = 0; i < octets; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    mask[i] = (0xff << (8 - bits)) & 0xff;
  }
  return mask;
}

/** The prefix length of a mask of leading ones, or null when the ones are not contiguous. */
function maskPrefix(mask: Uint8Array): number | null {
  let prefix = 0;
  let ended = false;
  for (const byte of mask) {
    for (let bit = 7; bit >= 0; bit--) {
      if (!(byte & (1 << bit))) ended = true;
      else if (ended) return null;
      else prefix++;
    }
  }
  return prefix;
}
