import { register } from "node:module";

/**
 * Preloaded with `--import` (through NODE_OPTIONS): appends "PID URL" to $IMPORT_LOG for every
 * module a process imports, so a test can say what a process it spawned has loaded.
 */
register(new URL("./import-log-hooks.js", import.meta.url), { data: { file: process.env.IMPORT_LOG } });
