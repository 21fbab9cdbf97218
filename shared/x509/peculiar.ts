import { webcrypto } from "node:crypto";

/** @peculiar/x509 is loaded only where certificates or CSRs are made, to keep CLI start-up quick. */
export async function loadX509() {
  // @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API.
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  // node's webcrypto implements the WebCrypto interface @peculiar/x509 expects; the types differ only nominally.
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  return x509;
}
