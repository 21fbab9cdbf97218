import { extensionValue } from "../../../shared/x509/cert.js";
import { children, readElement } from "../../../shared/x509/der.js";

const OID_SAN = "2.5.29.17";

/** The subjectAltName of a certificate as Go's crypto/x509 reads and prints it. */
export interface Sans {
  present: boolean;
  dns: string[];
  /** formatted as Go's net.IP.String() */
  ips: string[];
}

export function subjectAltNames(der: Uint8Array): Sans {
  const value = extensionValue(der, OID_SAN);
  if (!value) return { present: false, dns: [], ips: [] };
  const dns: string[] = [];
  const ips: string[] = [];
  for (const el of children(value, readElement(value, 0))) {
    const content = value.subarray(el.contentStart, el.end);
    if (el.tag === 0x82) dns.push(Buffer.from(content).toString("latin1"));
    if (el.tag === 0x87) ips.push(formatGoIp(content));
  }
  return { present: true, dns, ips };
}

/** net.IP.String(): dotted quad for IPv4 (and IPv4-mapped IPv6), RFC 5952 for IPv6. */
export function formatGoIp(b: Uint8Array): string {
  if (b.length === 4) return [...b].join(".");
  if (b.length !== 16) return `?${Buffer.from(b).toString("hex")}`;
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)
    return [...b.subarray(12)].join(".");
  const groups = Array.from({ length: 8 }, (_, i) => ((b[2 * i] ?? 0) << 8) | (b[2 * i + 1] ?? 0));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/** Go's matchHostnames: case-insensitive, a `*` allowed as the whole first label. */
export function matchHostnames(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().split(".");
  const h = host.toLowerCase().replace(/\.$/, "").split(".");
  if (!pattern || !host || p.length !== h.length) return false;
  return p.every((part, i) => (i === 0 && part === "*") || part === h[i]);
}
