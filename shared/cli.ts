import { Command, Option } from "commander";
import { errorMessage, InputError } from "./errors.js";
import { defaultLogFormat, LOG_FORMATS, type LogFormat } from "./log-format.js";
import { certyardVersion } from "./version.js";

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

type FlagMaker = (spec: string, description: string) => Option;

/**
 * A certyard program, as both executables start: --version, the program-level --log-format
 * (made with the program's own flag(), so its own variable), values from the environment read
 * and the log format handed to the command before it runs, usage errors in one line.
 */
export function certyardProgram(name: string, description: string, flag: FlagMaker): Command {
  return oneLineUsageErrors(
    new Command(name)
      .version(`${name} ${certyardVersion()}`, "-V, --version", "print the version")
      .description(description)
      .addOption(logFormatFlag(flag))
      .hook("preAction", readEnvValues)
      .hook("preAction", passLogFormat),
  );
}

/** Runs the program once every command is defined; any error ends it in one line and exit 1. */
export function runProgram(program: Command): void {
  oneLineMissingCommands(program)
    .parseAsync(process.argv)
    .catch((err: unknown) => failAndExit(program.name(), err));
}

/** pino's levels, for --log-level's choices: a typo is a usage error before anything starts. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

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
  throw new InputError(`${variable} must be 1, true, yes or on, or 0, false, no or off (got "${text}")`);
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

/**
 * A command with subcommands and none given (`certyard-ca token`, or the program alone) is a
 * usage error of one line, like an unknown flag, instead of commander's whole help on stderr.
 * Call once every command is defined.
 */
export function oneLineMissingCommands(cmd: Command): Command {
  for (const sub of cmd.commands) oneLineMissingCommands(sub);
  if (cmd.commands.length === 0) return cmd;
  const names = cmd.commands.map((c) => c.name());
  // commander drops its implicit `help` command from a command with an action: keep it
  return cmd
    .helpCommand(true)
    .allowExcessArguments()
    .action(() => {
      const [given] = cmd.args;
      if (given !== undefined) cmd.error(`unknown command '${given}'`);
      const path = [];
      for (let c: Command | null = cmd; c?.parent; c = c.parent) path.unshift(c.name());
      const what = path.length > 0 ? `"${path.join(" ")}" needs a command` : "give a command";
      cmd.error(`${what}: ${names.slice(0, -1).join(", ")}${names.length > 1 ? " or " : ""}${names.at(-1)}`);
    });
}

/** The program-level --log-format, made with the program's own flag() (and so its variable). */
export function logFormatFlag(flag: FlagMaker): Option {
  return flag("--log-format <format>", "json or text (default: text on a terminal, json otherwise)").choices(
    LOG_FORMATS,
  );
}

/**
 * A preAction hook: the program's --log-format (before or after the command, or from the
 * environment; text on a terminal and json otherwise when none is given) becomes the running
 * command's `logFormat` option, so every action finds it beside --log-level.
 */
export function passLogFormat(program: Command, action: Command): void {
  const chosen = program.opts().logFormat as LogFormat | undefined;
  action.setOptionValue("logFormat", chosen ?? defaultLogFormat());
}

/**
 * For a command that streams its output (`certs list`, `audit list`): a reader that goes away
 * (`| head`) ends it quietly with 0, as its pipe's SIGPIPE ends other tools; what it printed was
 * taken, and node would only report the write's EPIPE. Not for `serve` or the agent's `run`, which
 * must not stop with a success code because their stdout went.
 */
export function endQuietlyWhenReaderGoes(program: string): void {
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    failAndExit(program, err);
  });
}

/**
 * The one-line error and exit code every CLI of the project ends with. A message of several
 * lines is joined into one rather than cut, so the fix on its later lines is not lost (node's
 * "was compiled against a different Node.js version ... npm rebuild" for a native module).
 */
export function failAndExit(program: string, err: unknown): never {
  const lines = errorMessage(err)
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  process.stderr.write(`${program}: ${lines.join(" ").slice(0, 2000)}\n`);
  process.exit(1);
}
