import type { FetchError } from "ofetch";

/**
 * Why a request got no usable answer, in one line: the HTTP status when there was one,
 * otherwise the network or TLS error underneath ofetch's "fetch failed".
 */
export function fetchFailureReason(err: FetchError): string {
  if (err.status) return `HTTP ${err.status}`;
  const cause = (err.cause as { cause?: { message?: string }; message?: string } | undefined) ?? {};
  return cause.cause?.message ?? cause.message ?? err.message;
}
