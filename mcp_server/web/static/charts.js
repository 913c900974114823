// Column charts drawn as SVG: a run's value distribution, a monitor's time series and the sparklines of
// the monitors list are all this one chart. Sizes are SVG attributes, which the CSP allows; every label
// and title reaches the DOM as text.
import { count, html } from "./lib.js";

const VALUE_ROOM = 26;  // the width a value written above its column needs ("100%")

// `columns`, left to right: { value, part?, tone?, label?, title }. A null value is an empty slot (a
// period without judgments); `part` is the share of the column drawn at its foot in red (errors).
// `max` is the top of the scale (default the highest value); `ticks` are the values of the labelled
// gridlines of the y axis, written by `format`; `values` writes each value above its column, when the
// columns are wide enough for it; `label` names the chart for a screen reader.
export function ColumnChart({ columns, label, width = 300, height = 110, max, ticks = [], format = count, values = true, gap = 4, widest = 48 }) {
  const left = ticks.length ? 44 : 0;
  const top = values || ticks.length ? 14 : 1;
  const bottom = columns.some((c) => c.label) ? 18 : 1;
  const plot = height - top - bottom;
  const highest = max ?? Math.max(0, ...columns.map((c) => c.value ?? 0));
  const columnWidth = Math.max(1, Math.min(widest, (width - left - gap * (columns.length - 1)) / columns.length));
  const written = values && columnWidth + gap >= VALUE_ROOM;
  const tall = (value) => (highest > 0 ? (plot * Math.max(0, Math.min(value, highest))) / highest : 0);
  const base = height - bottom;
  return html`<svg class="chart" width=${width} height=${height} viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${label}>
    ${ticks.map((tick) => html`<g key=${`tick ${tick}`} class="tick">
      <line class="grid" x1=${left} x2=${width} y1=${base - tall(tick)} y2=${base - tall(tick)} />
      <text class="tick" x=${left - 6} y=${base - tall(tick) + 3.5}>${format(tick)}</text></g>`)}
    <line class="axis" x1=${left} x2=${width} y1=${base} y2=${base} />
    ${columns.map((c, i) => {
      const x = left + i * (columnWidth + gap);
      const middle = x + columnWidth / 2;
      const empty = c.value === null || c.value === undefined;
      const h = empty ? 0 : tall(c.value);
      return html`<g key=${i} class=${empty ? "slot empty" : "slot"}>
        <title>${c.title}</title>
        <rect class="hover" x=${x} y=${top} width=${columnWidth} height=${plot} />
        ${!empty && html`<rect class=${`column ${c.tone || ""}`} x=${x} y=${base - h} width=${columnWidth} height=${h} />`}
        ${!empty && c.part > 0 && html`<rect class="part" x=${x} y=${base - tall(c.part)} width=${columnWidth} height=${tall(c.part)} />`}
        ${!empty && written && html`<text class="count" x=${middle} y=${base - h - 3}>${format(c.value)}</text>`}
        ${c.label && html`<text class="label" x=${middle} y=${height - 5}>${c.label}</text>`}
      </g>`;
    })}
  </svg>`;
}
