/**
 * ACME wire types (RFC 8555 7.1), declared once for the CA's server and the agent's client. A
 * client checks what it relies on; `error` is a problem document (RFC 8555 6.7) as received.
 */

export type IdentifierType = "dns" | "ip";
export interface Identifier {
  type: IdentifierType;
  value: string;
}

export type ChallengeType = "http-01" | "tls-alpn-01" | "dns-01";
export type ChallengeStatus = "pending" | "processing" | "valid" | "invalid";
export type AuthzStatus = "pending" | "valid" | "invalid" | "deactivated" | "expired" | "revoked";
export type OrderStatus = "pending" | "ready" | "processing" | "valid" | "invalid";
export type AccountStatus = "valid" | "deactivated" | "revoked";

export interface DirectoryDoc {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  revokeCert: string;
  keyChange: string;
  renewalInfo?: string;
  /** RFC 8555 7.1.1: optional, as is each of its fields */
  meta?: {
    externalAccountRequired?: boolean;
    termsOfService?: string;
    website?: string;
  };
}

export interface ChallengeDoc {
  type: ChallengeType;
  url: string;
  token: string;
  status: ChallengeStatus;
  validated?: string;
  error?: unknown;
}

export interface AuthzDoc {
  identifier: Identifier;
  status: AuthzStatus;
  expires: string;
  challenges: ChallengeDoc[];
  wildcard?: boolean;
}

export interface OrderDoc {
  status: OrderStatus;
  expires: string;
  identifiers: Identifier[];
  authorizations: string[];
  finalize: string;
  notBefore?: string;
  notAfter?: string;
  certificate?: string;
  error?: unknown;
  replaces?: string;
}

/** RFC 9773 4.2 */
export interface RenewalInfoDoc {
  suggestedWindow: { start: string; end: string };
  explanationURL?: string;
}
