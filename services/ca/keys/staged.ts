import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
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

interface PlanStep {
  /** the file's name in the folder */
  staged: string;
  /** where it goes, relative to the data directory */
  path: string;
}

/**
 * plan.json as stageFiles wrote it, checked by hand: finishRotation runs at the start of
 * fingerprint, and zod took 0.13-0.19 s of CPU to load there.
 */
function readPlan(file: string): PlanStep[] {
  const plan: unknown = JSON.parse(readFileSync(file, "utf8"));
  const isStep = (s: unknown): s is PlanStep =>
    typeof s === "object" &&
    s !== null &&
    typeof (s as Record<string, unknown>).staged === "string" &&
    typeof (s as Record<string, unknown>).path === "string";
  if (!Array.isArray(plan) || !plan.every(isStep)) throw new Error(`${file} is not a rotation plan`);
  return plan;
}

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
  const plan = readPlan(join(dir, "plan.json"));
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
