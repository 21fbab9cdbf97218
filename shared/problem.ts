/**
 * Errors as problem documents, one family for every front end: RFC 9457 on certyard's API and
 * RFC 8555 6.7 over ACME. Each kind says, as data, how it is written on each: its status and
 * title on the API (type PROBLEM_BASE + kind), and the ACME error type it is sent as (a kind
 * without one reaches an ACME client as serverInternal, and is logged). Every layer throws a
 * Problem; one handler per front end writes it out.
 */
export const PROBLEM_BASE = "https://certyard.dev/problems/";
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

interface KindSpec {
  status: number;
  title: string;
  acme?: AcmeErrorType;
}

const acmeOnly = (acme: AcmeErrorType, title: string): KindSpec => ({
  status: acmeErrorStatus[acme],
  title,
  acme,
});

export const problemTypes = {
  malformed: { status: 400, title: "Malformed request", acme: "malformed" },
  badCSR: { status: 400, title: "Bad certificate signing request", acme: "badCSR" },
  badPublicKey: { status: 400, title: "Unsupported or weak public key", acme: "badCSR" },
  badSignature: { status: 400, title: "CSR signature does not verify", acme: "badCSR" },
  badName: { status: 400, title: "Malformed name", acme: "rejectedIdentifier" },
  unauthorized: { status: 401, title: "Missing or invalid credential", acme: "unauthorized" },
  rejectedIdentifier: {
    status: 403,
    title: "Name not allowed for this credential",
    acme: "rejectedIdentifier",
  },
  forbidden: { status: 403, title: "Not allowed", acme: "unauthorized" },
  notFound: { status: 404, title: "Not found", acme: "notFound" },
  conflict: { status: 409, title: "Conflict" },
  payloadTooLarge: { status: 413, title: "Request body too large", acme: "malformed" },
  unsupportedMediaType: { status: 415, title: "Unsupported media type" },
  rateLimited: { status: 429, title: "Rate limit exceeded", acme: "rateLimited" },
  internal: { status: 500, title: "Internal server error" },
  // over ACME a serverInternal, sent with 503 and Retry-After (storageUnavailable)
  unavailable: { status: 503, title: "Service unavailable", acme: "serverInternal" },
  // ACME's own (RFC 8555 6.7, RFC 9773 7.4), raised only by the ACME server
  accountDoesNotExist: acmeOnly("accountDoesNotExist", "Account does not exist"),
  alreadyReplaced: acmeOnly("alreadyReplaced", "Certificate already replaced"),
  alreadyRevoked: acmeOnly("alreadyRevoked", "Certificate already revoked"),
  badNonce: acmeOnly("badNonce", "Bad nonce"),
  badRevocationReason: acmeOnly("badRevocationReason", "Bad revocation reason"),
  badSignatureAlgorithm: acmeOnly("badSignatureAlgorithm", "Unsupported signature algorithm"),
  connection: acmeOnly("connection", "Cannot connect for validation"),
  dns: acmeOnly("dns", "DNS problem during validation"),
  externalAccountRequired: acmeOnly("externalAccountRequired", "External account binding required"),
  incorrectResponse: acmeOnly("incorrectResponse", "Incorrect challenge response"),
  invalidContact: acmeOnly("invalidContact", "Invalid contact"),
  orderNotReady: acmeOnly("orderNotReady", "Order not ready"),
  serverInternal: acmeOnly("serverInternal", "Internal server error"),
  tls: acmeOnly("tls", "TLS problem during validation"),
  unsupportedContact: acmeOnly("unsupportedContact", "Unsupported contact"),
  unsupportedIdentifier: acmeOnly("unsupportedIdentifier", "Unsupported identifier"),
} as const satisfies Record<string, KindSpec>;

export type ProblemKind = keyof typeof problemTypes;

/** RFC 9457, as certyard's API writes it. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extra: string]: unknown;
}

/** RFC 8555 6.7, as the ACME server writes it and an ACME client reads it. */
export interface AcmeProblemDocument {
  type: string;
  detail: string;
  status: number;
  title?: string;
  subproblems?: AcmeProblemDocument[];
  identifier?: { type: string; value: string };
  algorithms?: string[];
}

export interface ProblemOptions {
  /** fields added to the document (a request id, RFC 8555 6.7.1 identifier, algorithms) */
  extra?: Record<string, unknown>;
  /** seconds, sent as Retry-After (RFC 9110 10.2.3, RFC 8555 6.6) */
  retryAfter?: number;
  /** a status of its own where an RFC names one for the case (405, 409, 415: RFC 8555 6.2, 6.3, 7.3.5) */
  status?: number;
}

export class Problem extends Error {
  readonly kind: ProblemKind;
  /** the status on certyard's API */
  readonly status: number;
  readonly extra: Record<string, unknown>;
  readonly retryAfter: number | undefined;
  private readonly statusOverride: number | undefined;

  constructor(kind: ProblemKind, detail: string, o: ProblemOptions = {}) {
    super(detail);
    this.name = "Problem";
    this.kind = kind;
    this.status = o.status ?? problemTypes[kind].status;
    this.statusOverride = o.status;
    this.extra = o.extra ?? {};
    this.retryAfter = o.retryAfter;
  }

  get type(): string {
    return PROBLEM_BASE + this.kind;
  }

  /** The ACME error type this problem is sent as; undefined when it has none. */
  get acmeType(): AcmeErrorType | undefined {
    const spec: KindSpec = problemTypes[this.kind];
    return spec.acme;
  }

  /** The status over ACME. */
  get acmeStatus(): number {
    const t = this.acmeType;
    return this.statusOverride ?? (t ? acmeErrorStatus[t] : 500);
  }

  toJSON(): ProblemDocument {
    return {
      ...this.extra,
      ...(this.retryAfter !== undefined ? { retryAfter: this.retryAfter } : {}),
      type: this.type,
      title: problemTypes[this.kind].title,
      status: this.status,
      detail: this.message,
    };
  }

  /** The RFC 8555 6.7 document; null for a kind that has no ACME form. */
  toAcmeJSON(): AcmeProblemDocument | null {
    const t = this.acmeType;
    if (!t) return null;
    return {
      ...this.extra,
      type: ACME_ERROR_NS + (t === "notFound" ? "malformed" : t),
      detail: this.message,
      status: this.acmeStatus,
    };
  }
}

export function isProblem(e: unknown): e is Problem {
  return e instanceof Problem;
}

/** A Problem that has an ACME form. */
export function isAcmeProblem(e: unknown): e is Problem & { acmeType: AcmeErrorType } {
  return e instanceof Problem && e.acmeType !== undefined;
}

const ctor =
  (kind: ProblemKind) =>
  (detail: string): Problem =>
    new Problem(kind, detail);

export const malformed = ctor("malformed");
export const badCSR = ctor("badCSR");
export const badPublicKey = ctor("badPublicKey");
export const badSignature = ctor("badSignature");
export const badName = ctor("badName");
export const unauthorized = ctor("unauthorized");
export const rejectedIdentifier = ctor("rejectedIdentifier");
export const forbidden = ctor("forbidden");
export const notFound = ctor("notFound");
export const conflict = ctor("conflict");
export const payloadTooLarge = ctor("payloadTooLarge");
export const rateLimited = (detail: string, retryAfterSeconds: number) =>
  new Problem("rateLimited", detail, { retryAfter: retryAfterSeconds });
export const unavailable = ctor("unavailable");
/** The data directory does not take writes (a full disk, a read-only mount): come back later. */
export const storageUnavailable = (detail = "the CA cannot store data right now; try again later") =>
  new Problem("unavailable", detail, { status: 503, retryAfter: 30 });

export const accountDoesNotExist = ctor("accountDoesNotExist");
/** RFC 9773 5 and 7.4: `replaces` names a certificate that another order, not invalid, already replaces. */
export const alreadyReplaced = ctor("alreadyReplaced");
export const alreadyRevoked = ctor("alreadyRevoked");
export const badNonce = ctor("badNonce");
export const badRevocationReason = ctor("badRevocationReason");
export const badSignatureAlgorithm = (detail: string, algorithms: string[]) =>
  new Problem("badSignatureAlgorithm", detail, { extra: { algorithms } });
export const connectionProblem = ctor("connection");
export const dnsProblem = ctor("dns");
export const externalAccountRequired = ctor("externalAccountRequired");
export const incorrectResponse = ctor("incorrectResponse");
export const invalidContact = ctor("invalidContact");
export const orderNotReady = ctor("orderNotReady");
export const serverInternal = ctor("serverInternal");
export const tlsProblem = ctor("tls");
export const unsupportedContact = ctor("unsupportedContact");
export const unsupportedIdentifier = ctor("unsupportedIdentifier");
