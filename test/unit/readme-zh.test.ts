import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  type CodeBlock,
  commandsOf,
  firstDifference,
  parseMarkdown,
  setUpAndWalkthrough,
  stripShellComments,
} from "../helpers/readme-commands.js";

// README.zh-CN.md follows README.md from the top to the end of "## Walkthrough" (its subsections
// "ACME clients" and "Without the agent" included). "The same commands": every fenced code
// block of that part of README.md has one in README.zh-CN.md, in the same order, with the same
// info string and the same lines once shell comments are taken out; README.zh-CN.md has no other
// code block. Comments are stripped rather than kept identical because they are prose (what a step
// does) that a Chinese reader should get in Chinese; what the reader types must not differ.

const EN = "README.md";
const ZH = "README.zh-CN.md";
const read = (file: string) => readFileSync(new URL(`../../../${file}`, import.meta.url), "utf8");

function inStep(en: string, zh: string): string | undefined {
  return firstDifference(
    { file: EN, blocks: setUpAndWalkthrough(parseMarkdown(en)).blocks },
    { file: ZH, blocks: parseMarkdown(zh).blocks },
  );
}

/** The text with the first command line (a line that is not only a comment) of a block changed. */
function changeCommand(text: string, block: CodeBlock, edit: (line: string) => string): string {
  const lines = text.split("\n");
  const k = block.body.findIndex((l) => commandsOf({ ...block, body: [l] }).length > 0);
  assert.ok(k >= 0, `block at line ${block.line + 1} has a command`);
  const at = block.line + 1 + k;
  lines[at] = edit(lines[at] ?? "");
  return lines.join("\n");
}

const sudo = (line: string) => line.replace(/^(\s*)/, "$1sudo ");

describe("README.zh-CN.md", () => {
  const en = read(EN);
  const zh = read(ZH);
  const enPart = setUpAndWalkthrough(parseMarkdown(en));
  const zhBlocks = parseMarkdown(zh).blocks;

  test("gives the same commands as README.md's set-up and walkthrough", () => {
    const titles = enPart.headings.map((h) => h.text);
    for (const t of [/^Set up/, /^Install/, /^Walkthrough/, /^ACME clients/, /^Without the agent/]) {
      assert.ok(
        titles.some((x) => t.test(x)),
        `${t} is in the part compared: ${titles.join(" / ")}`,
      );
    }
    assert.ok(enPart.blocks.length >= 8, `${enPart.blocks.length} blocks compared`);
    assert.equal(
      inStep(en, zh),
      undefined,
      "README.md and README.zh-CN.md must give the same commands (comments may differ): " +
        "change the block in both files",
    );
  });

  test("each file links to the other above its first section", () => {
    const top = (text: string) => text.slice(0, text.search(/^## /m));
    assert.ok(top(en).includes("[简体中文](README.zh-CN.md)"), "README.md links to the Chinese one");
    assert.ok(top(zh).includes("[English](README.md)"), "README.zh-CN.md links to the English one");
  });

  test("quotes Docker's x509 errors verbatim, in English, as users search for them", () => {
    const flat = (s: string) => s.replace(/\s+/g, " ");
    const messages = [...flat(en).matchAll(/`(x509: [^`]+)`/g)].map((m) => m[1] ?? "");
    assert.ok(messages.length >= 2, messages.join("\n"));
    for (const m of messages) assert.ok(flat(zh).includes(`\`${m}\``), `README.zh-CN.md quotes ${m}`);
  });

  test("a command changed in README.md alone, in any block, is caught", () => {
    for (const b of enPart.blocks) {
      const diff = inStep(changeCommand(en, b, sudo), zh);
      assert.ok(diff?.includes(`${EN}:${b.line + 1} `), `caught at ${EN}:${b.line + 1}: ${diff}`);
    }
  });

  test("a command changed in README.zh-CN.md alone, in any block, is caught", () => {
    for (const b of zhBlocks) {
      const diff = inStep(en, changeCommand(zh, b, sudo));
      assert.ok(diff?.includes(`${ZH}:${b.line + 1} `), `caught at ${ZH}:${b.line + 1}: ${diff}`);
      // and a change inside a line, not only at its start: the first word misspelt
      const typo = inStep(
        en,
        changeCommand(zh, b, (l) => l.replace(/(\S)(\s)/, "$1x$2")),
      );
      assert.notEqual(typo, undefined, `a typo at ${ZH}:${b.line + 1}`);
    }
  });

  test("a block dropped, added or moved on one side is caught", () => {
    const lines = zh.split("\n");
    const last = zhBlocks.at(-1) as CodeBlock;
    const end = last.line + last.body.length + 2;
    const dropped = [...lines.slice(0, last.line), ...lines.slice(end)].join("\n");
    assert.match(inStep(en, dropped) ?? "", /has no counterpart in README\.zh-CN\.md/);
    const added = `${zh}\n\`\`\`sh\nnpm run test:e2e\n\`\`\`\n`;
    assert.match(inStep(en, added) ?? "", /README\.zh-CN\.md:\d+ .* has no counterpart in README\.md/);
    const first = zhBlocks[0] as CodeBlock;
    const second = zhBlocks[1] as CodeBlock;
    const body = (b: CodeBlock) => lines.slice(b.line, b.line + b.body.length + 2);
    const swapped = [
      ...lines.slice(0, first.line),
      ...body(second),
      ...lines.slice(first.line + first.body.length + 2, second.line),
      ...body(first),
      ...lines.slice(second.line + second.body.length + 2),
    ].join("\n");
    assert.notEqual(inStep(en, swapped), undefined);
    assert.notEqual(inStep(en, zh.replace("```sh", "```bash")), undefined, "the info string counts");
  });

  test("comments may be translated, blank lines and trailing spaces do not count", () => {
    const b = zhBlocks.find((x) => x.body.some((l) => /\s#\s/.test(l))) as CodeBlock;
    assert.ok(b, "some block has a comment after a command");
    const lines = zh.split("\n");
    const k = b.line + 1 + b.body.findIndex((l) => /\s#\s/.test(l));
    lines[k] = `${(lines[k] ?? "").replace(/\s#\s.*$/, "   # 另一种说法")}  `;
    lines.splice(b.line + 1, 0, "# 新加的一行注释", "");
    assert.equal(inStep(en, lines.join("\n")), undefined);
  });

  test("a # inside quotes or a word is part of the command", () => {
    assert.equal(stripShellComments("echo 'a # b' # note"), "echo 'a # b' ");
    const kept = 'echo "a # \\" # b" x#y $# \u0024{#v}'; // ${#v}: a parameter's length, not a comment
    assert.equal(stripShellComments(kept), kept);
    assert.equal(stripShellComments("a \\# b # c\n# d\ne"), "a \\# b \n\ne");
    assert.equal(stripShellComments("curl https://h/#frag;# c"), "curl https://h/#frag;");
    const block = (line: string): CodeBlock => ({ lang: "sh", line: 0, heading: "", body: [line] });
    const d = firstDifference(
      { file: EN, blocks: [block("echo 'a # b'")] },
      { file: ZH, blocks: [block("echo 'a # c'")] },
    );
    assert.match(d ?? "", /command line 1/);
  });
});
