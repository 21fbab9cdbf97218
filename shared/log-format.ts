/** What --log-format chooses, apart from pino so the CLIs can parse it without loading pino. */
export const LOG_FORMATS = ["json", "text"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** --log-format's default: people read a terminal, machines read everything else. */
export function defaultLogFormat(stderrIsTty = Boolean(process.stderr.isTTY)): LogFormat {
  return stderrIsTty ? "text" : "json";
}

const LEVEL_WORDS: Record<number, string> = {
  10: "trace",
  20: "debug",
  30: "",
  40: "warning",
  50: "error",
  60: "fatal",
};
const HIDDEN = new Set(["level", "time", "pid", "hostname", "name", "msg", "v"]);

/** One pino JSON line as text: name, the level unless info, the message, then key=value. */
export function textLine(json: string): string {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const level = LEVEL_WORDS[Number(event.level)] ?? String(event.level);
  const fields = Object.entries(event)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${fieldText(v)}`);
  const head = `${event.name ?? "certyard"}: ${level ? `${level}: ` : ""}${String(event.msg ?? "")}`;
  return fields.length > 0 ? `${head} (${fields.join(", ")})` : head;
}

function fieldText(v: unknown): string {
  if (typeof v === "string") return /[\s,()=]/.test(v) ? JSON.stringify(v) : v;
  if (v && typeof v === "object" && "message" in v && typeof v.message === "string")
    return JSON.stringify(v.message);
  return JSON.stringify(v);
}
