import { readFileSync } from "node:fs";
import { type Command, Option } from "commander";

/** Every flag has an environment variable: --data -> CERTYARD_DATA, --tls-dns -> CERTYARD_TLS_DNS. */
export function flag(spec: string, description: string): Option {
  const long = /--([a-z0-9-]+)/.exec(spec)?.[1] ?? "";
  return new Option(spec, description).env(`CERTYARD_${long.toUpperCase().replace(/-/g, "_")}`);
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), ...splitList(value)];
/** Repeatable flags; from the environment, a comma- or space-separated list. */
export function listFlag(spec: string, description: string): Option {
  return flag(spec, description).argParser(collect);
}
const splitList = (v: string) => v.split(/[\s,]+/).filter(Boolean);

export const dataFlag = () => flag("--data <dir>", "data directory (SQLite file and keys)").default("./data");

export function readPassphrase(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  const text = readFileSync(file, "utf8").replace(/\r?\n$/, "");
  if (text.length === 0) throw new Error(`${file} is empty`);
  return text;
}

export function addDataFlag(cmd: Command): Command {
  return cmd.addOption(dataFlag());
}
