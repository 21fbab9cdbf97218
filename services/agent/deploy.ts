import { X509Certificate } from "node:crypto";
import { lstatSync, rmSync } from "node:fs";
import type { Logger } from "../../shared/log.js";
import { certificatesFromPem, fingerprint } from "../../shared/x509/pem.js";
import { type DockerClient, DockerError } from "./actions/docker.js";
import { runShell } from "./actions/exec.js";
import {
  backupCertFiles,
  type CertFiles,
  checkTargets,
  type FileContents,
  writeCertFiles,
} from "./actions/files.js";
import { waitForServed } from "./actions/verify.js";
import type { ReloadAction } from "./state.js";

export interface DeployDeps {
  docker: DockerClient;
  log: Logger;
  /** the root the verifying handshake trusts */
  rootPem: string;
  backupDir: string;
  verifyDeadlineMs?: number;
}

export interface DeployPlan extends CertFiles {
  reload: ReloadAction[];
  verify?: string;
}

/**
 * A deployment that failed after the files were written; the message says what was seen and what
 * was restored. `restored` says whether the previous files were put back, so that the new
 * certificate is not the one in use.
 */
export class DeployError extends Error {
  constructor(
    message: string,
    readonly restored: boolean,
  ) {
    super(message);
  }
}

/**
 * Before a certificate is asked for: the files may be replaced (plain files or nothing, no
 * symlinks) and every engine a reload needs answers.
 */
export async function preflight(plan: DeployPlan, deps: DeployDeps): Promise<void> {
  checkTargets(plan, deps.backupDir);
  if (plan.reload.some((r) => r.kind === "docker")) await deps.docker.ping();
}

async function reloadAll(plan: DeployPlan, deps: DeployDeps): Promise<{ skippedVerify: boolean }> {
  let skippedVerify = false;
  for (const action of plan.reload) {
    if (action.kind === "docker") {
      const r = await deps.docker.restart(action.container);
      if (r === "missing") {
        deps.log.warn(
          { container: action.container },
          "container does not exist yet: restart and verify skipped",
        );
        skippedVerify = true;
      } else deps.log.info({ container: action.container }, "container restarted");
    } else {
      await runShell(action.command, {}, { cwd: action.cwd });
      deps.log.info({ command: action.command }, "reload command ran");
    }
  }
  return { skippedVerify };
}

/**
 * Writes the new files, runs the reload actions and, with a verify target, checks that the new
 * leaf is what is served. If it is not, the previous files go back, the reloads run again, and
 * a DeployError says what was seen.
 */
export async function deploy(plan: DeployPlan, next: FileContents, deps: DeployDeps): Promise<void> {
  const previous = backupCertFiles(plan, deps.backupDir);
  const fresh = [plan.keyFile, plan.certFile].filter((f) => !lstatSync(f, { throwIfNoEntry: false }));
  try {
    writeCertFiles(plan, next);
  } catch (err) {
    // The key may be written and the chain not: put back what was there (or remove what was
    // not), so that the files never hold a key and a certificate that do not belong together.
    putBack(plan, previous, fresh);
    throw new DeployError(
      `cannot write the new files: ${(err as Error).message}; ${previous ? "the previous files are in place" : "nothing was written"}`,
      true,
    );
  }
  let skippedVerify = false;
  try {
    ({ skippedVerify } = await reloadAll(plan, deps));
  } catch (err) {
    await rollback(plan, previous, deps, `reload failed: ${(err as Error).message}`);
  }
  if (!plan.verify || skippedVerify) return;
  const leaf = certificatesFromPem(next.cert)[0];
  if (!leaf) throw new DeployError("the new certificate file holds no certificate", false);
  const result = await waitForServed(plan.verify, deps.rootPem, fingerprint(leaf), deps.verifyDeadlineMs);
  if (result.ok) {
    deps.log.info(
      { target: plan.verify, serial: new X509Certificate(leaf).serialNumber },
      "new certificate is served",
    );
    return;
  }
  await rollback(
    plan,
    previous,
    deps,
    `${plan.verify} did not serve the new certificate: it served ${result.saw}`,
  );
}

function putBack(plan: DeployPlan, previous: FileContents | null, fresh: string[]): void {
  try {
    if (previous) writeCertFiles(plan, previous);
    else for (const f of fresh) rmSync(f, { force: true });
  } catch {
    // the write that failed fails again the same way: nothing new was put in place
  }
}

async function rollback(
  plan: DeployPlan,
  previous: FileContents | null,
  deps: DeployDeps,
  why: string,
): Promise<never> {
  if (!previous) throw new DeployError(`${why}; there were no previous files to restore`, false);
  try {
    // what backupCertFiles read from the plain files at these two paths, and nothing else
    writeCertFiles(plan, previous);
  } catch (err) {
    throw new DeployError(
      `${why}; the previous files could not be restored: ${(err as Error).message}`,
      false,
    );
  }
  try {
    await reloadAll(plan, deps);
  } catch (err) {
    const detail = err instanceof DockerError || err instanceof Error ? err.message : String(err);
    throw new DeployError(`${why}; previous files restored, but reloading them failed: ${detail}`, true);
  }
  throw new DeployError(`${why}; previous files restored and reloaded`, true);
}
