import type { FileContents } from "../actions/files.js";
import type { IssuerRecord, Managed } from "../state.js";

/** The names a certificate is for, as the agent has checked them. */
export interface Names {
  dns: string[];
  ips: string[];
}

/** RFC 9773 4.2: the window in which the issuer wants a certificate renewed. */
export interface RenewalWindow {
  start: string;
  end: string;
}

/** A certificate as an issuer hands it over. */
export interface Issued {
  /** the leaf and its intermediates, PEM: what goes into the certificate file */
  fullchain: string;
  serial: string;
  /** ISO 8601 */
  notBefore: string;
  notAfter: string;
  /** when the issuer said when to renew it */
  renewalInfo?: RenewalWindow;
}

/**
 * Where a managed certificate comes from: certyard's own API (issuers/ca.ts) or any ACME CA
 * (issuers/acme/issuer.ts). An issuer gets certificates and nothing else; the commands do the
 * rest the same way for both: the key is made on this host, the files written, reloaded,
 * verified and put back on failure (deploy.ts), the record kept (state.ts).
 */
export interface Issuer {
  /** What the certificate's record keeps so that `renew` can build this issuer again. */
  readonly record: IssuerRecord;
  /** Whether a renewal may keep the current key (renew --keep-key); otherwise a new key each time. */
  readonly canKeepKey: boolean;
  /** The root a --verify handshake trusts for certificates from here, PEM. */
  verifyRoot(): string;
  /** A first certificate for the key that signed the CSR, for these names. */
  obtain(csrPem: string, names: Names): Promise<Issued>;
  /**
   * Throws, saying what to do instead, when this certificate cannot be renewed from here; called
   * before anything is touched.
   */
  checkRenewal(m: Managed, current: FileContents | null): void;
  /**
   * A certificate to take the place of the current one: for a new key's CSR or, without one
   * (only when canKeepKey), for the current key.
   */
  renew(m: Managed, current: FileContents | null, csrPem: string | undefined): Promise<Issued>;
  /**
   * RFC 9773 4.2: the renewal window the issuer gives now for this certificate (it can move
   * after issue); undefined when it gives none. Absent: the issuer never gives one.
   */
  renewalWindow?(certPem: string): Promise<RenewalWindow | undefined>;
}
