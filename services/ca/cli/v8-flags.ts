/**
 * The V8 settings `serve` runs with, measured on node 24 (README, "Processes and memory").
 *
 * V8 grows a busy process's young generation to 2 x 16 MiB semi-spaces and keeps them when it
 * goes idle; neither time nor a forced GC gives them back. With 4 MiB semi-spaces one serving
 * process holds about 51 MiB PSS idle after start and 79 MiB after a sign load, against 61 and
 * 115 MiB with V8's defaults, for no measurable loss of req/s on this 2-core machine (its noise
 * is larger). 1 MiB semi-spaces saved little more idle (49 MiB) and promoted more to the old
 * generation under load (105 MiB after it). The operator's own --max-semi-space-size (argv or
 * NODE_OPTIONS) wins.
 */
export const SERVE_V8_FLAGS = ["--max-semi-space-size=4"];

/** The flags to add to a serving process's execArgv: none when the operator chose their own. */
export function missingV8Flags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const own = [...execArgv, nodeOptions ?? ""].some((a) => a.includes("--max-semi-space-size"));
  return own ? [] : SERVE_V8_FLAGS;
}
