import { isIPv4, isIPv6 } from "node:net";
import { dnsNameProblem, normalizeDns } from "../../../shared/dns-name.js";
import { InputError } from "../../../shared/errors.js";

/**
 * Names a certificate may carry, and the patterns a credential allows them through.
 * DNS names follow RFC 1123 host name syntax (RFC 5280 4.2.1.6 requires "preferred name
 * syntax" in dNSName); IP addresses are IPv4 or IPv6 (RFC 5280 4.2.1.6 iPAddress).
 */

/** A DNS pattern of a credential: `registry.lan`, `*.lan` (one label), `**.lan` (any depth). */
export type DnsPattern = { kind: "exact"; name: string } | { kind: "one" | "any"; suffix: string };

export function parseDnsPattern(text: string): DnsPattern {
  const p = normalizeDns(text.trim());
  const [kind, rest] = p.startsWith("**.")
    ? (["any", p.slice(3)] as const)
    : p.startsWith("*.")
      ? (["one", p.slice(2)] as const)
      : (["exact", p] as const);
  const problem = dnsNameProblem(rest);
  if (problem) throw new InputError(`invalid DNS pattern "${text}": ${problem}`);
  return kind === "exact" ? { kind, name: rest } : { kind, suffix: rest };
}

export function formatDnsPattern(p: DnsPattern): string {
  return p.kind === "exact" ? p.name : `${p.kind === "one" ? "*" : "**"}.${p.suffix}`;
}

export function dnsPatternMatches(pattern: DnsPattern, name: string): boolean {
  const n = normalizeDns(name);
  if (dnsNameProblem(n) !== null) return false;
  if (pattern.kind === "exact") return n === pattern.name;
  if (!n.endsWith(`.${pattern.suffix}`)) return false;
  const head = n.slice(0, n.length - pattern.suffix.length - 1);
  return head.length > 0 && (pattern.kind === "any" || !head.includes("."));
}

export type IpFamily = "ipv4" | "ipv6";

export function ipFamily(address: string): IpFamily | null {
  if (isIPv4(address)) return "ipv4";
  if (isIPv6(address)) return "ipv6";
  return null;
}

/** An address or CIDR of a credential: `10.0.0.5`, `10.0.0.0/24`, `fd00::/8`. */
export interface IpRange {
  address: string;
  prefix: number;
  family: IpFamily;
}

export function parseIpRange(text: string): IpRange {
  const [addr = "", bits, extra] = text.trim().split("/");
  const family = ipFamily(addr);
  if (!family || extra !== undefined) throw new InputError(`invalid IP address or CIDR "${text}"`);
  const max = family === "ipv4" ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!/^\d+$/.test(bits ?? String(max)) || prefix > max)
    throw new InputError(`invalid prefix length in "${text}"`);
  return { address: canonicalIp(addr), prefix, family };
}

export const formatIpRange = (r: IpRange) =>
  r.prefix === (r.family === "ipv4" ? 32 : 128) ? r.address : `${r.address}/${r.prefix}`;

/**
 * A matcher for a set of ranges, comparing octets under each prefix. Each family is matched only
 * against ranges of its own family: an IPv4-mapped IPv6 address is 16 octets and is not inside
 * a 4-octet range (RFC 5280 4.2.1.10). (node's BlockList would say it is, and cost ten times
 * as much on the signing path.)
 */
export function ipMatcher(ranges: readonly IpRange[]): (ip: string) => boolean {
  const nets = ranges.map((r) => ({ octets: ipToBytes(r.address), prefix: r.prefix }));
  return (ip) => {
    if (ipFamily(ip) === null) return false;
    const octets = ipToBytes(ip);
    return nets.some((n) => n.octets.length === octets.length && samePrefix(n.octets, octets, n.prefix));
  };
}

function samePrefix(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const bits = prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return ((a[whole] ?? 0) & mask) === ((b[whole] ?? 0) & mask);
}

/** The text form of an iPAddress SAN's 4 or 16 octets (RFC 5952 for IPv6). */
export function ipFromBytes(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  if (bytes.length !== 16) throw new InputError(`an IP address has 4 or 16 octets, not ${bytes.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  return compressIpv6(groups);
}

function compressIpv6(groups: number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  const left = hex.slice(0, bestStart).join(":");
  const right = hex.slice(bestStart + bestLen).join(":");
  return `${left}::${right}`;
}

/** The octets of an IPv4 or IPv6 address in text form. */
export function ipToBytes(address: string): Buffer {
  const family = ipFamily(address);
  if (family === "ipv4") return Buffer.from(address.split(".").map(Number));
  if (family !== "ipv6") throw new InputError(`invalid IP address "${address}"`);
  let text = address;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tailBytes: number[] = [];
  if (v4tail?.[1]) {
    tailBytes = v4tail[1].split(".").map(Number);
    text = `${text.slice(0, -v4tail[1].length)}0:0`;
  }
  const [head = "", tail] = text.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const zeros = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill("0");
  const groups = [...h, ...zeros, ...t].map((g) => Number.parseInt(g, 16));
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(g, i * 2);
  if (tailBytes.length === 4) out.set(tailBytes, 12);
  return out;
}

export const canonicalIp = (address: string) => ipFromBytes(ipToBytes(address));
