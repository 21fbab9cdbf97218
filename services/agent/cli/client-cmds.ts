import type { Command } from "commander";

/** Placeholder until htpasswd, trust and doctor land (being written now). */
export function registerClientCommands(_program: Command): void {}
