import type { RootCert } from "./root-certs.js";
import { runTool, type ToolStep } from "./trust-tool.js";

/**
 * `trust --java`: the root into the default JDK's `cacerts` with its keytool (`-cacerts`, the
 * store of the JDK that keytool belongs to: /etc/ssl/certs/java/cacerts on Debian), or into the
 * keystore CERTYARD_AGENT_JAVA_CACERTS names. The password is the JDK's default, changeit.
 */

export const javaAlias = (root: RootCert) => `certyard-${root.fingerprint.slice(0, 16)}`;

/** `-cacerts`, or `-keystore FILE` when one is given. */
export function keystoreArgs(keystore: string | null): string[] {
  return [...(keystore ? ["-keystore", keystore] : ["-cacerts"]), "-storepass", "changeit"];
}

export const describeStore = (keystore: string | null) => keystore ?? "the JDK's cacerts";

/** The aliases among `aliases` that the store holds. */
export function javaAliasesPresent(keytool: string, keystore: string | null, aliases: string[]): string[] {
  return aliases.filter((alias) => {
    const r = runTool([keytool, "-list", ...keystoreArgs(keystore), "-alias", alias]);
    if (r.code === 0) return true;
    if (/does not exist/.test(r.out)) return false;
    throw new Error(`keytool -list ${describeStore(keystore)} failed: ${r.out.trim().split("\n")[0]}`);
  });
}

export function planJava(
  keytool: string,
  keystore: string | null,
  present: string[],
  roots: RootCert[],
  remove: boolean,
): ToolStep[] {
  const where = describeStore(keystore);
  return roots.map((root): ToolStep => {
    const alias = javaAlias(root);
    const has = present.includes(alias);
    if (remove) {
      return has
        ? {
            label: `removed ${alias} from ${where}`,
            command: [keytool, "-delete", ...keystoreArgs(keystore), "-alias", alias],
            changed: true,
          }
        : { label: `unchanged ${where} (no ${alias})`, command: [], changed: false };
    }
    if (has) return { label: `unchanged ${where} (${alias})`, command: [], changed: false };
    return {
      label: `imported ${alias} into ${where}`,
      command: [keytool, "-importcert", ...keystoreArgs(keystore), "-noprompt", "-alias", alias],
      input: root.pem,
      changed: true,
    };
  });
}
