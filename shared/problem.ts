/**
 * Errors as RFC 9457 problem documents. One constructor per kind of problem, each with its own
 * `type` URI, so that every layer throws the same thing and one handler writes it out.
 */
export const PROBLEM_BASE = "https://certyard.dev/problems/";

export const problemTypes = {
  malformed: { status: 400, title: "Malformed request" },
  badCSR: { status: 400, title: "Bad certificate signing request" },
  badPublicKey: { status: 400, title: "Unsupported or weak public key" },
  badSignature: { status: 400, title: "CSR signature does not verify" },
  badName: { status: 400, title: "Malformed name" },
  unauthorized: { status: 401, title: "Missing or invalid credential" },
  rejectedIdentifier: { status: 403, title: "Name not allowed for this credential" },
  forbidden: { status: 403, title: "Not allowed" },
  notFound: { status: 404, title: "Not found" },
  conflict: { status: 409, title: "Conflict" },
  payloadTooLarge: { status: 413, title: "Request body too large" },
  unsupportedMediaType: { status: 415, title: "Unsupported media type" },
  rateLimited: { status: 429, title: "Rate limit exceeded" },
  internal: { status: 500, title: "Internal server error" },
  unavailable: { status: 503, title: "Service unavailable" },
} as const;

export type ProblemKind = keyof typeof problemTypes;

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extra: string]: unknown;
}

export class Problem extends Error {
  readonly kind: ProblemKind;
  readonly status: number;
  readonly extra: Record<string, unknown>;

  constructor(kind: ProblemKind, detail: string, extra: Record<string, unknown> = {}) {
    super(detail);
    this.name = "Problem";
    this.kind = kind;
    this.status = problemTypes[kind].status;
    this.extra = extra;
  }

  get type(): string {
    return PROBLEM_BASE + this.kind;
  }

  toJSON(): ProblemDocument {
    return {
      ...this.extra,
      type: this.type,
      title: problemTypes[this.kind].title,
      status: this.status,
      detail: this.message,
    };
  }
}

export const malformed = (detail: string) => new Problem("malformed", detail);
export const badCSR = (detail: string) => new Problem("badCSR", detail);
export const badPublicKey = (detail: string) => new Problem("badPublicKey", detail);
export const badSignature = (detail: string) => new Problem("badSignature", detail);
export const badName = (detail: string) => new Problem("badName", detail);
export const unauthorized = (detail: string) => new Problem("unauthorized", detail);
export const rejectedIdentifier = (detail: string) => new Problem("rejectedIdentifier", detail);
export const forbidden = (detail: string) => new Problem("forbidden", detail);
export const notFound = (detail: string) => new Problem("notFound", detail);
export const conflict = (detail: string) => new Problem("conflict", detail);
export const payloadTooLarge = (detail: string) => new Problem("payloadTooLarge", detail);
export const rateLimited = (detail: string, retryAfterSeconds: number) =>
  new Problem("rateLimited", detail, { retryAfter: retryAfterSeconds });
export const unavailable = (detail: string) => new Problem("unavailable", detail);

export function isProblem(e: unknown): e is Problem {
  return e instanceof Problem;
}
