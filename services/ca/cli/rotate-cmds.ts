import { withDataLock } from "../keys/lock.js";
import { requireInitialised } from "../keys/paths.js";
import { type Rotated, rotateIntermediate, rotateRoot } from "../keys/rotate.js";
import { requireStore } from "../store/open.js";
import { type DataOpts, dataPaths, readPassphrase } from "./options.js";

/** `certyard-ca rotate intermediate|root`: one rotation at a time, never beside a backup. */
export async function rotateCommand(
  what: "intermediate" | "root",
  o: DataOpts & { passphraseFile?: string },
): Promise<string> {
  const paths = dataPaths(o);
  requireInitialised(paths);
  await requireStore(paths.db);
  const passphrase = readPassphrase(o.passphraseFile);
  const r: Rotated = await withDataLock(paths.dataDir, `a rotation of the ${what}`, () =>
    what === "root" ? rotateRoot(paths, passphrase) : rotateIntermediate(paths, passphrase),
  );
  const lines = [
    `new intermediate ${r.intermediate} (the previous one, ${r.previousIntermediate}, is kept for its certificates)`,
  ];
  if (r.root) {
    lines.push(
      `new root fingerprint: ${r.root} (cross-signed by the previous root ${r.previousRoot}; both are served in /roots.pem until the previous one expires)`,
    );
  }
  lines.push("a running serve issues from the new intermediate within seconds; no restart is needed");
  return lines.join("\n");
}
