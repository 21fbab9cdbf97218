import { InputError } from "./errors.js";

/**
 * The one check for a URL a person gives a certyard program to reach a server (the agent's
 * --ca, --acme and the URL in a join string): it must be https. Over http:// the fingerprint pin
 * protects nothing and tokens travel in clear. `what` names the input in the one-line error,
 * `example` shows a good one.
 */
export function httpsUrl(text: string, what: string, example: string): URL {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new InputError(`${what} "${text}" is not a URL; give one like ${example}`);
  }
  if (url.protocol !== "https:") {
    throw new InputError(
      `${what} "${text}" is ${url.protocol.replace(/:$/, "")}, not https: certyard talks to servers only over TLS; give one like ${example}`,
    );
  }
  return url;
}
