import { isIP, isIPv4, isIPv6 } from "node:net";

/** A registry as image references name it, and the directory name its clients look it up by. */

export interface Registry {
  host: string;
  port: number;
  /** the directory name Docker looks up under certs.d */
  dirName: string;
}

const DNS_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;

export function isDnsName(name: string): boolean {
  return DNS_NAME.test(name) && !isIP(name);
}

/**
 * `HOST:PORT`, `HOST` (port 443) or `[IPv6]:PORT`. Docker names the certs.d directory after the
 * registry part of the image reference as typed: `registry.lan:5000`, `[fd00::1]:5000`, and
 * `registry.lan` alone when the registry is on 443 (the reference then carries no port).
 */
export function parseRegistry(input: string): Registry {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(input);
  const plain = /^([^:[\]]+)(?::(\d+))?$/.exec(input);
  const m = v6 ?? plain;
  const host = m?.[1];
  if (!m || host === undefined || (v6 ? !isIPv6(host) : !(isIPv4(host) || isDnsName(host)))) {
    throw new RangeError(`invalid registry "${input}": expected HOST:PORT, HOST or [IPv6]:PORT`);
  }
  const port = m[2] === undefined ? 443 : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new RangeError(`invalid registry "${input}": port ${m[2]} is out of range (1-65535)`);
  const hostPart = v6 ? `[${host}]` : host;
  return { host, port, dirName: port === 443 ? hostPart : `${hostPart}:${port}` };
}
