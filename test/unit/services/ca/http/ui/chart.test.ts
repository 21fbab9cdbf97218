import assert from "node:assert/strict";
import { test } from "node:test";
import { expiryChart } from "../../../../../../services/ca/http/ui/chart.js";

test("the expiry chart: one bar per day, heights in proportion, the largest day reaching the top, dates in the titles", async () => {
  const day0 = Date.UTC(2026, 11, 3);
  const svg = String(await expiryChart([0, 5, 10, 0], day0));
  const bars = [
    ...svg.matchAll(/<rect class="bar"[^>]* height="([\d.]+)"[^>]*data-day="([\d-]+)" data-count="(\d+)">/g),
  ];
  assert.equal(bars.length, 4);
  assert.deepEqual(
    bars.map((b) => b[2]),
    ["2026-12-03", "2026-12-04", "2026-12-05", "2026-12-06"],
  );
  const heights = bars.map((b) => Number(b[1]));
  assert.equal(heights[0], 0);
  assert.equal(heights[2], 182);
  assert.equal(heights[1], 91);
  assert.match(svg, /<title>2026-12-05: 10 expiring<\/title>/);
  assert.match(svg, />today</);
  // nothing expiring: no division by zero
  assert.doesNotMatch(String(await expiryChart([0, 0], day0)), /NaN|Infinity/);
});
