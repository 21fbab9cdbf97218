import { readFileSync } from "node:fs";
import { envFlags } from "../../../shared/cli.js";

export const { flag, listFlag, switchFlag } = envFlags("CERTYARD");

export const dataFlag = () => flag("--data <dir>", "data directory (SQLite file and keys)").default("./data");

export function readPassphrase(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  const text = readFileSync(file, "utf8").replace(/\r?\n$/, "");
  if (text.length === 0) throw new Error(`${file} is empty`);
  return text;
}
