import type { KeyObject } from "node:crypto";
import { encodePem } from "../../../shared/x509/pem.js";
import { type ParsedCsr, parseCsrAsync } from "../core/csr.js";
import { assembleCertificate, buildTbs, type LeafFields, type LeafTemplate } from "../core/profile.js";
import { signOnThreadpool } from "./signing.js";

/**
 * Where the sign path's crypto runs: the CSR's parse and signature check, and the certificate's
 * TBS, signature and PEM. The authority keeps the checks, the serial and the store; a Signer
 * only turns bytes into a parsed request and fields into a certificate, with the same results
 * (the same ParsedCsr or Problem, the same DER but for the signature's randomness) wherever it
 * runs. `threadpoolSigner` is today's default; `threadSigner` (signer-thread.ts) moves it into
 * one worker thread (serve --crypto-thread, issue 16).
 */
export interface Signer {
  /** PKCS#10 parsed and its signature verified: parseCsr's result, or its Problem */
  parseCsr(der: Uint8Array): Promise<ParsedCsr>;
  /** the certificate of `fields` under `template`, signed by `key` (the intermediate's), as PEM */
  certificate(template: LeafTemplate, key: KeyObject, fields: LeafFields): Promise<string>;
  /** serve went idle: give back what can be restarted at the next request (the thread's memory) */
  rest(): void;
  /** stops whatever the signer started; requests it still had fail */
  close(): Promise<void>;
}

/** The event loop parses and builds, libuv's threadpool verifies and signs (node:crypto with a callback). */
export function threadpoolSigner(): Signer {
  return {
    parseCsr: (der) => parseCsrAsync(der),
    certificate: async (template, key, fields) => {
      const tbs = buildTbs(template, fields);
      const signature = await signOnThreadpool(template.hash, tbs, key);
      return encodePem("CERTIFICATE", assembleCertificate(template, tbs, signature));
    },
    rest: () => {},
    close: async () => {},
  };
}
