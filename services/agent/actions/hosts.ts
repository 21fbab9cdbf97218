import { isIP } from "node:net";
import { dnsNameProblem } from "../../../shared/dns-name.js";

/**
 * The managed lines of /etc/hosts: one `IP NAME # certyard` line per NAME. A line is ours only
 * when it ends with the marker; every other line is left exactly as it is.
 */

export const HOSTS_MARK = "# certyard";

export interface HostsEntry {
  name: string;
  ip: string;
}

/** `NAME=IP`, as --hosts takes it. */
export function parseHostsEntry(spec: string): HostsEntry {
  const eq = spec.indexOf("=");
  const name = spec.slice(0, eq).trim().toLowerCase();
  const ip = spec.slice(eq + 1).trim();
  if (eq < 0 || dnsNameProblem(name) !== null) {
    throw new RangeError(`invalid --hosts "${spec}": expected NAME=IP with a DNS name`);
  }
  if (!isIP(ip)) throw new RangeError(`invalid --hosts "${spec}": "${ip}" is not an IP address`);
  return { name, ip };
}

export const hostsLine = (e: HostsEntry) => `${e.ip} ${e.name} ${HOSTS_MARK}`;

function isManaged(line: string): boolean {
  return /\s#\s*certyard\s*$/.test(line) || line.trim() === HOSTS_MARK;
}

/** The names a hosts line maps (fields after the address, before any comment). */
function namesOf(line: string): { ip: string; names: string[] } | null {
  const fields = (line.split("#")[0] ?? "").trim().split(/\s+/).filter(Boolean);
  const [ip, ...names] = fields;
  return ip && names.length ? { ip, names: names.map((n) => n.toLowerCase()) } : null;
}

/**
 * The file with one managed line per entry: a previous managed line for the NAME is replaced
 * where it stands (and any duplicates dropped), a new one is appended. Returns the current text
 * unchanged, byte for byte, when every managed line is already right. Warns when a line of
 * someone else's maps the same NAME earlier in the file, since the first match wins.
 */
export function mergeHosts(current: string, entries: HostsEntry[]): { content: string; warnings: string[] } {
  const lines = current === "" ? [] : current.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  let edited = false;
  const warnings: string[] = [];
  for (const entry of entries) {
    const want = hostsLine(entry);
    const ours: number[] = [];
    lines.forEach((l, i) => {
      if (isManaged(l) && namesOf(l)?.names.includes(entry.name)) ours.push(i);
    });
    const [first, ...rest] = ours;
    if (first === undefined) {
      lines.push(want);
      edited = true;
    } else {
      if (lines[first] !== want) {
        lines[first] = want;
        edited = true;
      }
      for (const i of rest.reverse()) {
        lines.splice(i, 1);
        edited = true;
      }
    }
    const mine = lines.indexOf(want);
    lines.forEach((l, i) => {
      const parsed = isManaged(l) ? null : namesOf(l);
      if (i < mine && parsed?.names.includes(entry.name) && parsed.ip !== entry.ip) {
        warnings.push(
          `line ${i + 1} maps ${entry.name} to ${parsed.ip} first, so the certyard line has no effect`,
        );
      }
    });
  }
  return { content: edited ? `${lines.join("\n")}\n` : current, warnings };
}

/** The file without the managed lines for these names; byte for byte the same when it has none. */
export function removeHosts(current: string, names: string[]): string {
  const lines = current.split("\n");
  const kept = lines.filter((l) => !(isManaged(l) && namesOf(l)?.names.some((n) => names.includes(n))));
  return kept.length === lines.length ? current : kept.join("\n");
}
