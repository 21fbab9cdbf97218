import { InputError } from "./errors.js";

/**
 * Ports given on the command line, checked with a message that names the flag and what is wrong:
 * "--listen: port 99999 is out of range (0-65535, 0 for any free port)". URLs: shared/url.ts.
 */

/** `allowZero`: a listen address, where 0 asks the kernel for any free port. */
export function portNumber(what: string, text: string, allowZero = false): number {
  const t = text.trim();
  const low = allowZero ? 0 : 1;
  if (!/^\d+$/.test(t)) throw new InputError(`${what}: "${text}" is not a port number (${low}-65535)`);
  const port = Number(t);
  if (port < low || port > 65535) {
    throw new InputError(
      `${what}: port ${t} is out of range (${low}-65535${allowZero ? ", 0 for any free port" : ""})`,
    );
  }
  return port;
}

/**
 * HOST:PORT or [IPv6]:PORT, the port required. The host is returned as written, without the
 * brackets; what a host may be is the caller's to check.
 */
export function hostPort(
  what: string,
  text: string,
  example: string,
  allowZero = false,
): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([^:]*)$/.exec(text.trim());
  if (!m) throw new InputError(`${what}: "${text}" is not HOST:PORT; e.g. ${example}`);
  return { host: m[1] ?? m[2] ?? "", port: portNumber(what, m[3] ?? "", allowZero) };
}
