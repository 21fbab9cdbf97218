import { readFileSync } from "node:fs";
import { InputError } from "../../../shared/errors.js";

/**
 * A secret from --NAME-file (a path, or "-" for standard input) instead of --NAME, whose value
 * every user of the host sees in `ps` while the command runs. One of the two, or neither.
 */
export function secretOption(
  name: string,
  value: string | undefined,
  file: string | undefined,
): string | undefined {
  if (file === undefined) return value;
  if (value !== undefined) throw new InputError(`give --${name} or --${name}-file, not both`);
  const where = file === "-" ? "standard input" : file;
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (err) {
    throw new InputError(`--${name}-file: cannot read ${where}: ${(err as Error).message}`);
  }
  const secret = text.trim();
  if (secret === "") throw new InputError(`--${name}-file: ${where} is empty`);
  if (/\s/.test(secret))
    throw new InputError(`--${name}-file: ${where} holds more than the ${name} (one line)`);
  return secret;
}
