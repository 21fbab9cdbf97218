import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { syncDir, writeNewFile } from "../../../shared/fs.js";

/**
 * Replacing several of the CA's files as one change (a rotation): a redo log. Every new file is
 * written and flushed in DATA/.rotate-staging with a plan of where each goes; renaming that
 * folder to DATA/.rotate is the commit; then each file is renamed into place and the folder
 * removed. A crash before the commit leaves the old files (the staging folder is discarded); a
 * crash after it is finished by the next finishRotation(), which loadCa() runs, so the CA is
 * always wholly the old one or wholly the new one.
 */
const STAGING = ".rotate-staging";
const COMMITTED = ".rotate";

export interface StagedFile {
  /** relative to the data directory */
  path: string;
  content: string;
  mode: number;
}

const planSchema = z.array(z.object({ staged: z.string(), path: z.string() }));

/** Writes the files to the staging folder, flushed; nothing in place changes yet. */
export function stageFiles(dataDir: string, files: StagedFile[]): void {
  const staging = join(dataDir, STAGING);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  const plan = files.map((f, i) => {
    if (f.path.startsWith("/") || f.path.split("/").includes("..")) throw new Error(`bad path ${f.path}`);
    writeNewFile(join(staging, String(i)), f.content, f.mode);
    return { staged: String(i), path: f.path };
  });
  writeNewFile(join(staging, "plan.json"), JSON.stringify(plan), 0o600);
  syncDir(staging);
}

/** The commit point: one rename. */
export function commitStaged(dataDir: string): void {
  renameSync(join(dataDir, STAGING), join(dataDir, COMMITTED));
  syncDir(dataDir);
}

/**
 * Moves a committed change into place (again, after a crash: a file already moved is not in
 * the folder any more) and discards an uncommitted one. Returns whether it finished one.
 */
export function finishRotation(dataDir: string): boolean {
  if (existsSync(join(dataDir, STAGING))) rmSync(join(dataDir, STAGING), { recursive: true, force: true });
  const dir = join(dataDir, COMMITTED);
  if (!existsSync(dir)) return false;
  const plan = planSchema.parse(JSON.parse(readFileSync(join(dir, "plan.json"), "utf8")));
  const dirs = new Set<string>();
  for (const step of plan) {
    const from = join(dir, step.staged);
    const to = join(dataDir, step.path);
    if (!existsSync(from)) continue;
    mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
    renameSync(from, to);
    dirs.add(dirname(to));
  }
  for (const d of dirs) syncDir(d);
  rmSync(dir, { recursive: true, force: true });
  syncDir(dataDir);
  return true;
}

/** stage, commit, finish. */
export function replaceFiles(dataDir: string, files: StagedFile[]): void {
  finishRotation(dataDir);
  stageFiles(dataDir, files);
  commitStaged(dataDir);
  finishRotation(dataDir);
}
