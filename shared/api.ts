/** Wire shapes of the CA's HTTP API that both services (and their tests) speak. */

/** An issued certificate, as POST /v1/sign and /v1/renew return it (CONTRACT: issued certificate). */
export interface IssuedCertificate {
  serial: string;
  notBefore: string;
  notAfter: string;
  /** the leaf, PEM */
  certificate: string;
  /** the intermediate(s), PEM */
  chain: string;
  /** leaf + intermediates, PEM */
  fullchain: string;
}
