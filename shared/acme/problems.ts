/**
 * ACME problem documents (RFC 8555 6.7): RFC 7807/9457 problems whose type is
 * `urn:ietf:params:acme:error:<name>`. One constructor per error type, as pebble's
 * acme/problems.go; the client side reads the same shape back.
 */
export const ACME_ERROR_NS = "urn:ietf:params:acme:error:";

/** RFC 8555 6.7 (and RFC 8738, 9773) error types with the status each is sent with. */
export const acmeErrorStatus = {
  accountDoesNotExist: 400,
  /** RFC 9773 7.4 */
  alreadyReplaced: 409,
  alreadyRevoked: 400,
  badCSR: 400,
  badNonce: 400,
  badPublicKey: 400,
  badRevocationReason: 400,
  badSignatureAlgorithm: 400,
  caa: 403,
  connection: 400,
  dns: 400,
  externalAccountRequired: 400,
  incorrectResponse: 403,
  invalidContact: 400,
  malformed: 400,
  orderNotReady: 403,
  rateLimited: 429,
  rejectedIdentifier: 403,
  serverInternal: 500,
  tls: 400,
  unauthorized: 403,
  unsupportedContact: 400,
  unsupportedIdentifier: 400,
  userActionRequired: 403,
  /** a resource that does not exist: sent as "malformed" with 404, as Boulder does */
  notFound: 404,
} as const;
export type AcmeErrorType = keyof typeof acmeErrorStatus;

export interface AcmeProblemDocument {
  type: string;
  detail: string;
  status: number;
  title?: string;
  subproblems?: AcmeProblemDocument[];
  identifier?: { type: string; value: string };
  algorithms?: string[];
}

export class AcmeProblem extends Error {
  readonly acmeType: AcmeErrorType;
  readonly status: number;
  /** seconds, sent as Retry-After (RFC 8555 6.6) */
  readonly retryAfter: number | undefined;
  readonly extra: Partial<AcmeProblemDocument>;

  constructor(
    type: AcmeErrorType,
    detail: string,
    opts: { retryAfter?: number; extra?: Partial<AcmeProblemDocument>; status?: number } = {},
  ) {
    super(detail);
    this.name = "AcmeProblem";
    this.acmeType = type;
    // a status of its own where the RFC names one for the case: 405, 409, 415 (RFC 8555 6.2, 6.3, 7.3.5)
    this.status = opts.status ?? acmeErrorStatus[type];
    this.retryAfter = opts.retryAfter;
    this.extra = opts.extra ?? {};
  }

  toJSON(): AcmeProblemDocument {
    return {
      ...this.extra,
      type: ACME_ERROR_NS + (this.acmeType === "notFound" ? "malformed" : this.acmeType),
      detail: this.message,
      status: this.status,
    };
  }
}

const ctor =
  (type: AcmeErrorType) =>
  (detail: string): AcmeProblem =>
    new AcmeProblem(type, detail);

export const acmeMalformed = ctor("malformed");
export const badNonce = ctor("badNonce");
export const acmeBadCsr = ctor("badCSR");
export const acmeUnauthorized = ctor("unauthorized");
export const accountDoesNotExist = ctor("accountDoesNotExist");
export const externalAccountRequired = ctor("externalAccountRequired");
export const orderNotReady = ctor("orderNotReady");
export const unsupportedIdentifier = ctor("unsupportedIdentifier");
export const acmeRejectedIdentifier = ctor("rejectedIdentifier");
export const incorrectResponse = ctor("incorrectResponse");
export const connectionProblem = ctor("connection");
export const dnsProblem = ctor("dns");
export const tlsProblem = ctor("tls");
export const alreadyRevoked = ctor("alreadyRevoked");
/** RFC 9773 5 and 7.4: `replaces` names a certificate that another order, not invalid, already replaces. */
export const alreadyReplaced = ctor("alreadyReplaced");
export const badRevocationReason = ctor("badRevocationReason");
export const invalidContact = ctor("invalidContact");
export const unsupportedContact = ctor("unsupportedContact");
export const acmeNotFound = ctor("notFound");
export const serverInternal = ctor("serverInternal");
export const badSignatureAlgorithm = (detail: string, algorithms: string[]) =>
  new AcmeProblem("badSignatureAlgorithm", detail, { extra: { algorithms } });
export const acmeRateLimited = (detail: string, retryAfterSeconds: number) =>
  new AcmeProblem("rateLimited", detail, { retryAfter: retryAfterSeconds });

export function isAcmeProblem(e: unknown): e is AcmeProblem {
  return e instanceof AcmeProblem;
}
