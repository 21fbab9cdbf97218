/** A flag's value: a string, a list that repeats the flag, true for a bare switch; false or undefined leave it out. */
export type FlagValue = string | readonly string[] | boolean | undefined;

/**
 * A command line from a command and its flags, so tests name what they pass instead of spelling
 * out argv: argv(["cert"], { name: "reg", dns: ["a.lan", "b.lan"], verifyTimeout: "2s" }) is
 * ["cert", "--name", "reg", "--dns", "a.lan", "--dns", "b.lan", "--verify-timeout", "2s"].
 */
export function argv(command: readonly string[], flags: Record<string, FlagValue>): string[] {
  const out = [...command];
  for (const [key, value] of Object.entries(flags)) {
    const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (value === true) out.push(flag);
    else if (typeof value === "string") out.push(flag, value);
    else if (Array.isArray(value)) for (const v of value) out.push(flag, v);
  }
  return out;
}
