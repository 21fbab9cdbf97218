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

/**
 * An error from a server the agent asked (the CA, an ACME server), carrying the problem document
 * it sent when it sent one (RFC 9457, RFC 8555 6.7) and the HTTP status when there was one.
 */
export class ServerError<Problem> extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly problem: Problem | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
