import { certyardVersion } from "../../../shared/version.js";
import { backup } from "../backup/backup.js";
import { restore } from "../backup/restore.js";
import { type DataOpts, dataPaths } from "./options.js";

export async function backupCommand(o: DataOpts & { out: string }): Promise<void> {
  const r = await backup(dataPaths(o), o.out, certyardVersion());
  for (const path of r.unknown) {
    process.stderr.write(`certyard-ca: not in the backup: ${o.data}/${path} (not a file the CA keeps)\n`);
  }
  const bytes = r.files.reduce((n, f) => n + f.size, 0);
  process.stdout.write(`wrote ${r.out}: ${r.files.length} files, ${bytes} bytes before compression\n`);
}

export async function restoreCommand(o: { from: string; data: string }): Promise<void> {
  const r = await restore(o.from, o.data);
  process.stdout.write(
    `restored ${r.manifest.files.length} files into ${r.dataDir} (backup of ${r.manifest.createdAt}, ` +
      `root fingerprint ${r.manifest.rootFingerprint}); the next CRL is numbered above ${r.crlNumber}; ` +
      `serve writes a new admin token when it starts\n`,
  );
}
