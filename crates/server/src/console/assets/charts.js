// Small SVG charts for the overview: a line over time and bars per minute. Each chart is an
// <svg role="img"> whose label says the latest value in words, so a screen reader gets the
// number, not the drawing.

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 320;
const HEIGHT = 90;
const PAD = 4;

function svg(tag, attributes = {}) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

function frame(label) {
  const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", class: "chart", preserveAspectRatio: "none" });
  root.setAttribute("aria-label", label);
  return root;
}

/** A line chart of `points` ([x, y] with x ascending). */
export function lineChart(points, label) {
  const root = frame(label);
  if (points.length < 2) return root;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const top = Math.max(1, ...ys);
  const x = (v) => PAD + ((v - x0) / Math.max(1, x1 - x0)) * (WIDTH - 2 * PAD);
  const y = (v) => HEIGHT - PAD - (v / top) * (HEIGHT - 2 * PAD);
  const path = points.map(([px, py], i) => `${i ? "L" : "M"}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(" ");
  root.append(svg("path", { d: `${path} L${x(x1)},${HEIGHT - PAD} L${x(x0)},${HEIGHT - PAD} Z`, class: "area" }));
  root.append(svg("path", { d: path, class: "line" }));
  const max = svg("text", { x: WIDTH - PAD, y: 12, "text-anchor": "end", class: "scale" });
  max.textContent = `max ${Number.isInteger(top) ? top : top.toFixed(1)}`;
  root.append(max);
  return root;
}

/** Bars of `buckets` ([x, count]) over the last `slots` slots ending at `end` (slot width `step`). */
export function barChart(buckets, { end, step, slots }, label) {
  const root = frame(label);
  const counts = new Map(buckets.map(([at, n]) => [Math.floor(at / step), n]));
  const last = Math.floor(end / step);
  const top = Math.max(1, ...counts.values());
  const width = (WIDTH - 2 * PAD) / slots;
  for (let i = 0; i < slots; i += 1) {
    const n = counts.get(last - slots + 1 + i) || 0;
    if (!n) continue;
    const height = (n / top) * (HEIGHT - 2 * PAD);
    root.append(svg("rect", { x: PAD + i * width, y: HEIGHT - PAD - height, width: Math.max(1, width - 1), height, class: "bar" }));
  }
  return root;
}
