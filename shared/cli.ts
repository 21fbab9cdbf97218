import type { Command } from "commander";
import { Option } from "commander";

/**
 * Flags that also come from the environment: with prefix CERTYARD, `--tls-dns` is
 * CERTYARD_TLS_DNS. Repeatable flags collect each use; from the environment they take a
 * comma- or newline-separated list. Switches (`--json`) take 1, true, yes or on, and 0, false,
 * no, off or nothing (see readEnvValues).
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
  const switchFlag = (spec: string, description: string): Option => {
    const option = flag(spec, description);
    if (option.envVar) switchOptions.set(option.attributeName(), option.envVar);
    return option;
  };
  return { flag, listFlag, switchFlag };
}

const listOptions = new Set<string>();
/** attribute name -> environment variable */
const switchOptions = new Map<string, string>();
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/**
 * A preAction hook for what came from the environment: list flags are split into their items,
 * and switches read their value (commander alone sets a switch whenever its variable exists, so
 * CERTYARD_JSON=0 would mean yes).
 */
export function readEnvValues(_program: Command, action: Command): void {
  for (const name of listOptions) {
    if (action.getOptionValueSource(name) !== "env") continue;
    const value = action.getOptionValue(name) as string[] | undefined;
    action.setOptionValueWithSource(
      name,
      (value ?? []).flatMap((v) => v.split(/[,\n]/).map((s) => s.trim())).filter(Boolean),
      "env",
    );
  }
  for (const [name, variable] of switchOptions) {
    if (action.getOptionValueSource(name) !== "env") continue;
    action.setOptionValueWithSource(name, switchValue(variable, process.env[variable] ?? ""), "env");
  }
}

export function switchValue(variable: string, text: string): boolean {
  const t = text.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(t)) return true;
  if (["", "0", "false", "no", "off"].includes(t)) return false;
  throw new RangeError(`${variable} must be 1, true, yes or on, or 0, false, no or off (got "${text}")`);
}

/**
 * Usage errors (an unknown flag, a missing value) as one line like every other error, with the
 * program's name, instead of commander's "error: ..." and its hints on further lines.
 */
export function oneLineUsageErrors(program: Command): Command {
  return program.configureOutput({
    outputError: (str, write) =>
      write(
        `${program.name()}: ${str
          .replace(/^error: /, "")
          .trim()
          .replace(/\s*\n\s*/g, " ")} (see --help)\n`,
      ),
  });
}

/** The one-line error and exit code every CLI of the project ends with. */
export function failAndExit(program: string, err: unknown): never {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${program}: ${msg.split("\n")[0]}\n`);
  process.exit(1);
}
