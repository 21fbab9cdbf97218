import type { Command } from "commander";
import { Option } from "commander";

/**
 * Flags that also come from the environment: with prefix CERTYARD, `--tls-dns` is
 * CERTYARD_TLS_DNS. Repeatable flags collect each use; from the environment they take a
 * comma- or newline-separated list (see splitEnvLists).
 */
export function envFlags(prefix: string) {
  const flag = (spec: string, description: string): Option => {
    const long = /--([a-z0-9-]+)/.exec(spec)?.[1] ?? "";
    return new Option(spec, description).env(`${prefix}_${long.toUpperCase().replace(/-/g, "_")}`);
  };
  const listFlag = (spec: string, description: string): Option => {
    const option = flag(spec, description).argParser(collect);
    listOptions.add(option.attributeName());
    return option;
  };
  return { flag, listFlag };
}

const listOptions = new Set<string>();
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** A preAction hook: list flags that came from the environment are split into their items. */
export function splitEnvLists(_program: Command, action: Command): void {
  for (const name of listOptions) {
    if (action.getOptionValueSource(name) !== "env") continue;
    const value = action.getOptionValue(name) as string[] | undefined;
    action.setOptionValueWithSource(
      name,
      (value ?? []).flatMap((v) => v.split(/[,\n]/).map((s) => s.trim())).filter(Boolean),
      "env",
    );
  }
}

/** The one-line error and exit code every CLI of the project ends with. */
export function failAndExit(program: string, err: unknown): never {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${program}: ${msg.split("\n")[0]}\n`);
  process.exit(1);
}
