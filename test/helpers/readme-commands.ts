// The commands a README gives, read from its fenced code blocks, so that README.md and its
// translations can be checked to give the same ones (test/unit/readme-zh.test.ts).
//
// "The same commands": the same fenced code blocks, in the same order, with the same info string,
// and line for line the same text once shell comments are taken out. Comments (`#` at the start of
// a word, outside quotes, to the end of the line) are prose for the reader and may be translated;
// blank lines and trailing spaces carry nothing. Everything else, indentation, quoting and line
// continuations included, must be identical. Not handled: here-documents (a `#` line in one would be
// taken for a comment on both sides alike, so such a line goes unchecked, never falsely different).

export interface Heading {
  level: number;
  text: string;
  /** 0-based line index in the file */
  line: number;
}

export interface CodeBlock {
  /** the info string's first word, "" when there is none */
  lang: string;
  /** 0-based line index of the opening fence */
  line: number;
  /** the nearest heading above the block, for messages */
  heading: string;
  /** the lines between the fences, as written */
  body: string[];
}

export interface Markdown {
  lines: string[];
  headings: Heading[];
  blocks: CodeBlock[];
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$/;

/** Headings and fenced code blocks (CommonMark fences); a `#` line inside a block is no heading. */
export function parseMarkdown(text: string): Markdown {
  const lines = text.split(/\r?\n/);
  const headings: Heading[] = [];
  const blocks: CodeBlock[] = [];
  let open: { fence: string; block: CodeBlock } | undefined;
  for (const [i, line] of lines.entries()) {
    if (open !== undefined) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
      if (close?.[1] !== undefined && close[1][0] === open.fence[0] && close[1].length >= open.fence.length) {
        blocks.push(open.block);
        open = undefined;
      } else {
        open.block.body.push(line);
      }
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence?.[1] !== undefined) {
      const heading = headings.at(-1)?.text ?? "(top)";
      open = { fence: fence[1], block: { lang: fence[2] ?? "", line: i, heading, body: [] } };
      continue;
    }
    const h = HEADING.exec(line);
    if (h?.[1] !== undefined) headings.push({ level: h[1].length, text: h[2] ?? "", line: i });
  }
  // an unclosed fence runs to the end of the file, as CommonMark reads it
  if (open !== undefined) blocks.push(open.block);
  return { lines, headings, blocks };
}

/**
 * The English README's set-up and walkthrough: from the top to the first level-2 heading after
 * "## Walkthrough..." (so its subsections, "ACME clients" and "Without the agent", are in).
 */
export function setUpAndWalkthrough(md: Markdown): { blocks: CodeBlock[]; headings: Heading[] } {
  const walkthrough = md.headings.find((h) => h.level === 2 && /^Walkthrough\b/.test(h.text));
  if (walkthrough === undefined) {
    throw new Error('README.md has no "## Walkthrough" heading: the Chinese README follows up to its end');
  }
  const end = md.headings.find((h) => h.line > walkthrough.line && h.level <= 2)?.line ?? md.lines.length;
  return {
    blocks: md.blocks.filter((b) => b.line < end),
    headings: md.headings.filter((h) => h.line < end),
  };
}

const SHELLS = new Set(["sh", "bash", "shell", "zsh", "console"]);
const WORD_BREAK = new Set([" ", "\t", "\n", ";", "&", "|", "(", ")", "<", ">"]);

/** Shell text without its comments: a `#` opens one only at the start of a word and unquoted. */
export function stripShellComments(text: string): string {
  let out = "";
  let quote: "'" | '"' | undefined;
  let wordStart = true; // after unquoted, unescaped blanks or operators
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    const atWordStart = wordStart;
    wordStart = false;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      out += c;
    } else if (quote === '"') {
      if (c === "\\") {
        out += c + text.charAt(i + 1);
        i++;
      } else {
        if (c === '"') quote = undefined;
        out += c;
      }
    } else if (c === "\\") {
      out += c + text.charAt(i + 1);
      i++;
    } else if (c === "#" && atWordStart) {
      const eol = text.indexOf("\n", i);
      i = (eol === -1 ? text.length : eol) - 1;
      wordStart = true;
    } else {
      if (c === "'" || c === '"') quote = c;
      wordStart = WORD_BREAK.has(c);
      out += c;
    }
  }
  return out;
}

/** What a block asks the reader to run: its lines without comments, trailing space and blank lines. */
export function commandsOf(block: CodeBlock): string[] {
  const text = block.body.join("\n");
  const kept = SHELLS.has(block.lang) ? stripShellComments(text) : text;
  return kept
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l !== "");
}

function where(file: string, b: CodeBlock): string {
  return `${file}:${b.line + 1} (\`\`\`${b.lang} under "${b.heading}")`;
}

/**
 * The first way in which two lists of blocks do not give the same commands, as a sentence naming
 * both files' lines, or undefined when they do.
 */
export function firstDifference(
  a: { file: string; blocks: CodeBlock[] },
  b: { file: string; blocks: CodeBlock[] },
): string | undefined {
  const n = Math.max(a.blocks.length, b.blocks.length);
  for (let i = 0; i < n; i++) {
    const x = a.blocks[i];
    const y = b.blocks[i];
    if (x === undefined || y === undefined) {
      const [has, lacks] = x === undefined ? [b, a] : [a, b];
      const extra = (x ?? y) as CodeBlock;
      return `code block ${i + 1} at ${where(has.file, extra)} has no counterpart in ${lacks.file}`;
    }
    if (x.lang !== y.lang) {
      return `code block ${i + 1}: \`\`\`${x.lang} at ${where(a.file, x)} but \`\`\`${y.lang} at ${where(b.file, y)}`;
    }
    const cx = commandsOf(x);
    const cy = commandsOf(y);
    for (let j = 0; j < Math.max(cx.length, cy.length); j++) {
      if (cx[j] !== cy[j]) {
        return (
          `code block ${i + 1} differs, command line ${j + 1} (comments aside):\n` +
          `  ${where(a.file, x)}: ${cx[j] ?? "(nothing)"}\n` +
          `  ${where(b.file, y)}: ${cy[j] ?? "(nothing)"}`
        );
      }
    }
  }
  return undefined;
}
