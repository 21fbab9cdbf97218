import { html } from "hono/html";
import type { Html } from "./layout.js";

const W = 900;
const H = 220;
const PAD = { left: 48, right: 8, top: 10, bottom: 28 };

/**
 * The expiry timeline as inline SVG: one bar per day from `day0` (a UTC midnight), its height
 * the certificates that expire that day, each with a <title> a browser shows on hover. The
 * y axis is labelled at 0, half and the largest day; the x axis every 15 days.
 */
export function expiryChart(perDay: readonly number[], day0: number): Html {
  const top = Math.max(1, ...perDay);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const step = plotW / Math.max(1, perDay.length);
  const bars = perDay.map((n, i) => {
    const h = (n / top) * plotH;
    const date = new Date(day0 + i * 86_400_000).toISOString().slice(0, 10);
    return html`<rect class="bar" x="${(PAD.left + i * step + 0.5).toFixed(1)}" y="${(PAD.top + plotH - h).toFixed(1)}" width="${Math.max(1, step - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="#1f6feb" data-day="${date}" data-count="${n}"><title>${date}: ${n} expiring</title></rect>`;
  });
  const yTicks = [0, Math.round(top / 2), top].filter((v, i, a) => a.indexOf(v) === i);
  const xTicks = perDay.map((_, i) => i).filter((i) => i % 15 === 0);
  return html`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="certificates expiring per day over the next ${perDay.length} days" id="expiry-chart">
<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${W - PAD.right}" y2="${PAD.top + plotH}" stroke="#888"/>
${yTicks.map((v) => {
  const y = PAD.top + plotH - (v / top) * plotH;
  return html`<text x="${PAD.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="12" fill="#5b6470">${v}</text><line x1="${PAD.left}" y1="${y.toFixed(1)}" x2="${W - PAD.right}" y2="${y.toFixed(1)}" stroke="#eee"/>`;
})}
${bars}
${xTicks.map(
  (i) =>
    html`<text x="${(PAD.left + i * step).toFixed(1)}" y="${H - 8}" font-size="12" fill="#5b6470">${i === 0 ? "today" : `+${i} d`}</text>`,
)}
</svg>`;
}
