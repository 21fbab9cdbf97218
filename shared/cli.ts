import { Option } from "commander";

/**
 * Flags that also come from the environment: with prefix CERTYARD, `--tls-dns` is
 * CERTYARD_TLS_DNS. Repeatable flags take a comma- or space-separated list from there.
 */
export function envFlags(prefix: string) {
  const flag = (spec: string, description: string): Option => {
    const long = /--([a-z0-9-]+)/.exec(spec)?.[1] ?? "";
    return new Option(spec, description).env(`${prefix}_${long.toUpperCase().replace(/-/g, "_")}`);
  };
  const listFlag = (spec: string, description: string): Option => flag(spec, description).argParser(collect);
  return { flag, listFlag };
}

const collect = (value: string, previous: string[] | undefined) => [
  ...(previous ?? []),
  ...value.split(/[\s,]+/).filter(Boolean),
];

/** The one-line error and exit code every CLI of the project ends with. */
export function failAndExit(program: string, err: unknown): never {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${program}: ${msg.split("\n")[0]}\n`);
  process.exit(1);
}
