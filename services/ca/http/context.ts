import type { HttpBindings } from "@hono/node-server";
import type { Logger } from "pino";
import type { Authority } from "../authority/authority.js";
import type { CertificateService } from "../authority/certificates.js";
import type { CrlPublisher } from "../authority/crl.js";
import type { HostService } from "../authority/hosts.js";
import type { Actor } from "../core/audit.js";
import type { TokenRecord, TokenState } from "../core/types.js";
import type { AuthFailures } from "../tokens/failures.js";
import type { NewTokenRequest } from "../tokens/requests.js";
import type { TokenVerifier } from "../tokens/verifier.js";
import { socketAddress } from "./proxy-protocol.js";

/** What the HTTP layer is handed by main: parts built elsewhere, no database handle. */
export interface AppDeps {
  authority: Authority;
  crl: CrlPublisher;
  verifyToken: TokenVerifier;
  /** failed token authentications per client address: logged, and 429 beyond the limit */
  authFailures: AuthFailures;
  /** a token's mutable state, for assertTokenUsable (see tokenVerifier's deferStateFor) */
  tokenState(id: string): Promise<TokenState | null>;
  createToken(req: NewTokenRequest, actor: Actor): Promise<{ record: TokenRecord; secret: string }>;
  certificates: CertificateService;
  /** the fleet view: host reports and GET /v1/hosts */
  hosts: HostService;
  /** rejects when the database cannot be read */
  health(): Promise<void>;
  /** failures for want of storage are noted here; problem() says why writes fail now, or null */
  storage: { noted(err: unknown): string | null; problem(): string | null };
  rootPem: string;
  rootFingerprint: string;
  /** every root served (the current one first, earlier ones until they expire), and the cross-certificates between them */
  rootsPem: string;
  crossPem: string;
  /** each answered request is counted here; GET /metrics writes the exposition of the whole process tree */
  metrics: {
    request(route: string, code: number, seconds: number): void;
    exposition(): Promise<string>;
  };
  log: Logger;
  clock: () => number;
}

export type AppEnv = {
  Bindings: Partial<HttpBindings>;
  Variables: { token: TokenRecord };
};

/** The client's IP address: the connection's, or its PROXY header's (http/proxy-protocol.ts). */
export function clientAddress(env: Partial<HttpBindings> | undefined): string {
  return socketAddress(env?.incoming?.socket);
}

/**
 * The DER of the TLS client certificate of this request, if one was presented. From
 * getPeerX509Certificate(), which wraps the certificate OpenSSL already holds:
 * getPeerCertificate() would first build the whole object (names, extensions, fingerprints) that
 * only its `raw` is taken from, on every renewal (issue 16).
 */
export function peerCertificate(env: Partial<HttpBindings> | undefined): Uint8Array | null {
  const socket = env?.incoming?.socket as
    | { getPeerX509Certificate?: () => { raw: Buffer } | undefined }
    | undefined;
  const raw = socket?.getPeerX509Certificate?.()?.raw;
  return raw && raw.length > 0 ? raw : null;
}
