// Overview: connections now, messages per second and refusals in the last hour, as numbers and
// small charts that move with the server's `stats` events (one a second, pushed), and the
// latest refusals as they are recorded.

import { consoleApi, on } from "./api.js";
import { lineChart, barChart } from "./charts.js";
import { h, fill, when } from "./ui.js";

const KEEP = 360;

export async function render(main, _args, context) {
  const history = await consoleApi("overview");
  const samples = history.samples.map(([t, c, m]) => ({ t, connections: c, rate: m }));
  const minutes = history.minutes;
  let refusalsLastHour = history.refusalsLastHour;

  const connections = h("p", { class: "big", id: "stat-connections" });
  const rate = h("p", { class: "big", id: "stat-rate" });
  const refusals = h("p", { class: "big", id: "stat-refusals" });
  const connectionsChart = h("div", { class: "chart-box" });
  const rateChart = h("div", { class: "chart-box" });
  const refusalsChart = h("div", { class: "chart-box" });
  const recent = h("ul", { class: "plain", id: "recent-refusals" });

  const card = (title, id, number, chart, note) =>
    h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), number, chart, h("p", { class: "muted small" }, note));

  const who = context.whoami;
  fill(
    main,
    h("h1", {}, "Overview"),
    h(
      "div",
      { class: "cards" },
      card("Connections now", "h-connections", connections, connectionsChart, "Open network connections, last six minutes."),
      card("Messages per second", "h-rate", rate, rateChart, "PUBLISH packets from clients, last six minutes."),
      card("Refusals in the last hour", "h-refusals", refusals, refusalsChart, "Per minute; see Refusals for why.")
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "h-recent" },
      h("h2", { id: "h-recent" }, "Latest refusals"),
      recent,
      h("p", {}, h("a", { href: "#/refusals" }, "All refusals, explained"))
    ),
    who.mqttsPort
      ? h(
          "section",
          { class: "card", "aria-labelledby": "h-try" },
          h("h2", { id: "h-try" }, "Connect a device"),
          h("p", {}, `Devices connect with mutual TLS to port ${who.mqttsPort}${who.wssPort ? `; browsers and SigV4 clients to wss port ${who.wssPort}` : ""}.`)
        )
      : null
  );

  const draw = () => {
    const last = samples[samples.length - 1] || { connections: 0, rate: 0, t: Date.now() };
    connections.textContent = String(last.connections);
    rate.textContent = last.rate.toFixed(1);
    refusals.textContent = String(refusalsLastHour);
    fill(connectionsChart, lineChart(samples.map((s) => [s.t, s.connections]), `${last.connections} connections now`));
    fill(rateChart, lineChart(samples.map((s) => [s.t, s.rate]), `${last.rate.toFixed(1)} messages per second now`));
    fill(
      refusalsChart,
      barChart(minutes, { end: Date.now(), step: 60000, slots: 60 }, `${refusalsLastHour} refusals in the last hour`)
    );
  };
  draw();

  const offStats = on("stats", (stats) => {
    samples.push({ t: stats.t, connections: stats.connections, rate: stats.messagesPerSecond });
    while (samples.length > KEEP) samples.shift();
    refusalsLastHour = stats.refusalsLastHour;
    draw();
  });
  // A refusal pushed while the list below loads is in both: each is shown once.
  const seen = new Set();
  const addRecent = (r) => {
    const key = `${r.time}|${r.peer}|${r.kind}|${r.reason}`;
    if (seen.has(key)) return;
    seen.add(key);
    recent.prepend(h("li", {}, h("strong", {}, r.kind), ` ${when(r.time)} — ${r.reason}`));
  };
  const offRefusal = on("refusal", (record) => {
    const minute = Math.floor(Date.now() / 60000) * 60000;
    const bucket = minutes.find(([m]) => m === minute);
    if (bucket) bucket[1] += 1;
    else minutes.push([minute, 1]);
    refusalsLastHour += 1;
    draw();
    addRecent(record);
    while (recent.children.length > 5) recent.lastChild.remove();
  });
  const latest = await consoleApi("refusals");
  for (const record of latest.refusals.slice(0, 5).reverse()) addRecent(record);
  return () => {
    offStats();
    offRefusal();
  };
}
