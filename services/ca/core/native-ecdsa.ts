import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/**
 * The native ECDSA check of CSR signatures (native/ecdsa-verify, built by `npm run build:native`
 * during `prepare`): OpenSSL's ECDSA_verify on a point decoded with EC_POINT_oct2point. It skips
 * the order check node runs when importing an EC key (a second scalar multiplication, needless on
 * P-256 and P-384), which was a third of a /v1/sign request. When the addon was not built, or
 * CERTYARD_NATIVE_ECDSA=0, this is null and node:crypto checks the signature instead.
 */
export interface NativeEcdsa {
  verify(
    curveBits: 256 | 384,
    uncompressedPoint: Uint8Array,
    hash: "sha256" | "sha384" | "sha512",
    message: Uint8Array,
    derSignature: Uint8Array,
  ): boolean;
}

// from dist/services/ca/core/ or services/ca/core/ to the repository's native/
const ADDON = import.meta.url.includes("/dist/")
  ? "../../../../native/ecdsa-verify/build/Release/certyard_ecdsa.node"
  : "../../../native/ecdsa-verify/build/Release/certyard_ecdsa.node";

function load(): NativeEcdsa | null {
  if (process.env.CERTYARD_NATIVE_ECDSA === "0") return null;
  try {
    return createRequire(import.meta.url)(fileURLToPath(new URL(ADDON, import.meta.url))) as NativeEcdsa;
  } catch {
    return null;
  }
}

export const nativeEcdsa: NativeEcdsa | null = load();
