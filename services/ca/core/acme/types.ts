import type {
  AccountStatus,
  ChallengeStatus,
  ChallengeType,
  Identifier,
} from "../../../../shared/acme/types.js";
import type { Policy } from "../policy.js";

/** Domain records of the ACME server; the store maps rows to and from these. */

export interface EabRecord {
  kid: string;
  name: string;
  /** the raw HMAC key */
  hmacKey: Uint8Array;
  policy: Policy;
  /** how many ACME accounts may bind it */
  maxAccounts: number;
  createdAt: number;
  revokedAt: number | null;
}

export interface AccountRecord {
  id: string;
  /** RFC 7638 thumbprint of the account key */
  thumbprint: string;
  jwk: Record<string, unknown>;
  status: AccountStatus;
  contact: string[];
  eabKid: string;
  createdAt: number;
}

export type StoredOrderStatus = "pending" | "processing" | "valid" | "invalid";

export interface OrderRecord {
  id: string;
  accountId: string;
  status: StoredOrderStatus;
  identifiers: Identifier[];
  authzIds: string[];
  expires: number;
  error: Record<string, unknown> | null;
  certSerial: string | null;
  replaces: string | null;
  /** RFC 8555 7.4: the validity the order asked for, epoch ms in whole seconds; null: the default */
  notBefore: number | null;
  notAfter: number | null;
  createdAt: number;
}

export interface ChallengeRecord {
  type: ChallengeType;
  token: string;
  status: ChallengeStatus;
  validated?: number;
  error?: Record<string, unknown>;
}

export type StoredAuthzStatus = "pending" | "valid" | "invalid" | "deactivated" | "revoked";

export interface AuthzRecord {
  id: string;
  accountId: string;
  identifier: Identifier;
  status: StoredAuthzStatus;
  expires: number;
  challenges: ChallengeRecord[];
}
