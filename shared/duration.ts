import { InputError } from "./errors.js";

/**
 * Durations as users write them: `30s`, `15m`, `24h`, `90d`, and combinations such as `1h30m`.
 * Parsed to milliseconds.
 */
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

const PART = /(\d+)(ms|s|m|h|d|w)/y;

export function parseDuration(text: string): number {
  const input = text.trim();
  if (input === "") throw new InputError("empty duration");
  let total = 0;
  let pos = 0;
  while (pos < input.length) {
    PART.lastIndex = pos;
    const m = PART.exec(input);
    if (!m) {
      throw new InputError(`invalid duration "${text}": use e.g. 30s, 15m, 24h, 90d or 1h30m`);
    }
    const [, digits = "", unit = ""] = m;
    total += Number(digits) * (UNIT_MS[unit] ?? 0);
    pos = PART.lastIndex;
  }
  if (!Number.isSafeInteger(total)) throw new InputError(`duration "${text}" is too large`);
  return total;
}

/** The shortest exact rendering: 90d, 1h30m, 45s. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = ms;
  let out = "";
  for (const unit of ["d", "h", "m", "s", "ms"] as const) {
    const size = UNIT_MS[unit] ?? 1;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
