import { InputError } from "./errors.js";
import { portNumber } from "./port.js";

/** The port written in a URL's authority, read before node's URL parser refuses it. */
const AUTHORITY_PORT = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^:/?#@[\]]*):(\d+)(?:[/?#]|$)/i;

/**
 * A URL a person gave, parsed. A port out of range is named ("--ca: port 99999 is out of range
 * (1-65535)"): node's parser says only "Invalid URL" for it, which sends a person looking at the
 * host name, and takes port 0, which nothing can connect to.
 */
export function parseUrl(text: string, what: string, example: string): URL {
  const written = AUTHORITY_PORT.exec(text.trim())?.[1];
  if (written !== undefined) portNumber(what, written);
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new InputError(`${what} "${text}" is not a URL; give one like ${example}`);
  }
  if (url.port !== "") portNumber(what, url.port);
  return url;
}

/**
 * The one check for a URL a person gives a certyard program to reach a server (the agent's
 * --ca, --acme and the URL in a join string): it must be https. Over http:// the fingerprint pin
 * protects nothing and tokens travel in clear. `what` names the input in the one-line error,
 * `example` shows a good one.
 */
export function httpsUrl(text: string, what: string, example: string): URL {
  const url = parseUrl(text, what, example);
  if (url.protocol !== "https:") {
    throw new InputError(
      `${what} "${text}" is ${url.protocol.replace(/:$/, "")}, not https: certyard talks to servers only over TLS; give one like ${example}`,
    );
  }
  return url;
}
