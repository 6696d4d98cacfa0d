// Things: a search over name, type and attribute values answered a page at a time by the server
// (so 10,000 things cost one small page), and a thing's page — attributes, groups,
// certificates, attached policies, its shadow with a JSON editor for the desired state (the
// document's desired, reported, delta and version, refreshed as the shadow's update/documents
// messages arrive), and its job executions.

import { aws, consoleApi, csrfToken, label, on } from "./api.js";
import { h, fill, table, status, failed, field, pretty, when, debounce, badge } from "./ui.js";

const PAGE = 50;

export async function render(main, args) {
  if (args[0]) return thingPage(main, args[0]);
  return listPage(main);
}

async function listPage(main) {
  const search = h("input", { type: "search", id: "thing-search", placeholder: "name, type or attribute value" });
  const results = h("div", { id: "thing-results", "aria-live": "polite" });
  const pager = h("div", { class: "pager" });
  const tokens = [""];
  let index = 0;

  const load = async () => {
    const query = new URLSearchParams({ q: search.value, size: String(PAGE) });
    if (tokens[index]) query.set("next", tokens[index]);
    try {
      const page = await consoleApi(`things?${query}`);
      tokens[index + 1] = page.next || "";
      const from = index * PAGE + (page.things.length ? 1 : 0);
      fill(
        results,
        h("p", { class: "muted", id: "thing-count" }, `${page.total} thing${page.total === 1 ? "" : "s"}${page.total ? `, showing ${from}–${index * PAGE + page.things.length}` : ""}`),
        table("Things", [
          ["Name", (t) => h("a", { href: `#/things/${encodeURIComponent(t.thingName)}` }, t.thingName)],
          ["Type", (t) => t.thingTypeName || ""],
          ["Attributes", (t) => Object.entries(t.attributes || {}).map(([k, v]) => `${k}=${v}`).join(", ")],
          ["Version", (t) => t.version],
          ["Connected", (t) => (t.connected ? badge("connected", "active") : badge("offline", "inactive"))],
        ], page.things, { id: "things-table" })
      );
      fill(
        pager,
        h("button", { disabled: index === 0, onclick: () => { index -= 1; load(); } }, "Previous page"),
        h("button", { disabled: !page.next, onclick: () => { index += 1; load(); } }, "Next page")
      );
    } catch (error) {
      failed("Things", error);
    }
  };
  search.addEventListener("input", debounce(() => { tokens.length = 1; index = 0; load(); }, 250));
  fill(main, h("h1", {}, "Things"), field("Search things", search, "Case-insensitive; matches any part of the name, type or an attribute value."), results, pager);
  await load();
  const off = on("sessions", debounce(load, 300));
  return off;
}

async function thingPage(main, name) {
  const thing = await aws("iot", "GET", `/things/${label(name)}`);
  const groups = h("div", {}, "…");
  const certs = h("div", {}, "…");
  const shadow = h("section", { class: "card", "aria-labelledby": "h-shadow", id: "shadow" });
  const jobs = h("div", {}, "…");
  const connected = h("span", { id: "thing-connected" });
  fill(
    main,
    h("p", {}, h("a", { href: "#/things" }, "← Things")),
    h("h1", {}, name, " ", connected),
    h(
      "section",
      { class: "card", "aria-labelledby": "h-attributes" },
      h("h2", { id: "h-attributes" }, "Attributes"),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Type"), h("dd", {}, thing.thingTypeName || "none"),
        h("dt", {}, "Version"), h("dd", {}, thing.version),
        h("dt", {}, "ARN"), h("dd", { class: "mono" }, thing.thingArn),
        Object.entries(thing.attributes || {}).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])
      )
    ),
    h("section", { class: "card", "aria-labelledby": "h-groups" }, h("h2", { id: "h-groups" }, "Thing groups"), groups),
    h("section", { class: "card", "aria-labelledby": "h-certs" }, h("h2", { id: "h-certs" }, "Certificates and attached policies"), certs),
    shadow,
    h("section", { class: "card", "aria-labelledby": "h-jobs" }, h("h2", { id: "h-jobs" }, "Jobs"), jobs)
  );

  const showConnected = async () => {
    try {
      const { sessions } = await consoleApi("sessions");
      const live = sessions.some((s) => s.clientId === name && s.connected);
      fill(connected, live ? badge("connected", "active") : badge("offline", "inactive"));
    } catch {
      fill(connected);
    }
  };
  showConnected();

  aws("iot", "GET", `/things/${label(name)}/thing-groups`)
    .then((r) => fill(groups, r.thingGroups.length ? h("ul", {}, r.thingGroups.map((g) => h("li", {}, g.groupName))) : h("p", { class: "muted" }, "In no thing group.")))
    .catch((e) => fill(groups, h("p", { class: "error" }, e.message)));

  aws("iot", "GET", `/things/${label(name)}/principals`)
    .then(async (r) => {
      const rows = await Promise.all(
        r.principals.map(async (arn) => {
          const id = arn.split("/").pop();
          const row = { arn, id, status: "", policies: [] };
          if (arn.includes(":cert/")) {
            try {
              row.status = (await aws("iot", "GET", `/certificates/${label(id)}`)).certificateDescription.status;
            } catch {
              row.status = "?";
            }
          }
          try {
            row.policies = (await aws("iot", "POST", `/attached-policies/${label(arn)}`)).policies.map((p) => p.policyName);
          } catch {
            row.policies = [];
          }
          return row;
        })
      );
      fill(
        certs,
        table("Certificates", [
          ["Certificate", (c) => h("a", { href: `#/certificates/${encodeURIComponent(c.id)}`, class: "mono" }, c.id.slice(0, 10))],
          ["Status", (c) => badge(c.status || "principal", c.status)],
          ["Policies", (c) => c.policies.map((p, i) => [i ? ", " : "", h("a", { href: `#/policies/${encodeURIComponent(p)}` }, p)])],
        ], rows)
      );
    })
    .catch((e) => fill(certs, h("p", { class: "error" }, e.message)));

  aws("iot", "GET", `/things/${label(name)}/jobs`)
    .then((r) =>
      fill(
        jobs,
        table("Job executions", [
          ["Job", (j) => j.jobId],
          ["Status", (j) => badge(j.jobExecutionSummary.status)],
          ["Queued", (j) => when(j.jobExecutionSummary.queuedAt)],
          ["Execution", (j) => j.jobExecutionSummary.executionNumber],
        ], r.executionSummaries || [])
      )
    )
    .catch((e) => fill(jobs, h("p", { class: "error" }, e.message)));

  const closeShadow = await shadowEditor(shadow, name);
  const off = on("sessions", debounce(showConnected, 300));
  return () => {
    off();
    closeShadow();
  };
}

/** The shadow card: the document, the desired-state editor, live refresh. */
async function shadowEditor(card, thing) {
  let shadowName = "";
  const picker = h("select", { id: "shadow-name" }, h("option", { value: "" }, "Classic shadow"));
  try {
    const named = await aws("iotdata", "GET", `/api/things/shadow/ListNamedShadowsForThing/${label(thing)}`);
    for (const n of named.results || []) picker.append(h("option", { value: n }, n));
  } catch {
    // A thing without named shadows answers with an empty list; an error here only hides them.
  }
  const documentView = h("div", { id: "shadow-document" });
  const editor = h("textarea", { id: "shadow-desired", rows: 8, spellcheck: "false", class: "mono" });
  const problem = h("p", { id: "shadow-problem", class: "error", role: "alert" });
  const form = h(
    "form",
    { id: "shadow-form" },
    field("Desired state (JSON object)", editor, "Sent as {\"state\": {\"desired\": …}}; null removes a key. The device sees the difference on its update/delta topic."),
    problem,
    h("button", { type: "submit", id: "shadow-update" }, "Update desired state")
  );
  fill(card, h("h2", { id: "h-shadow" }, "Device shadow"), field("Shadow", picker), documentView, form);

  const path = () => `/things/${label(thing)}/shadow${shadowName ? `?name=${encodeURIComponent(shadowName)}` : ""}`;
  const part = (title, value, id) => h("div", { class: "shadow-part" }, h("h3", {}, title), h("pre", { id, class: "mono" }, value === undefined ? "—" : pretty(value)));
  const load = async (keepEditor = false) => {
    try {
      const doc = await aws("iotdata", "GET", path());
      const state = doc.state || {};
      fill(
        documentView,
        h("p", {}, "Version ", h("strong", { id: "shadow-version" }, doc.version), ` · updated ${when(doc.timestamp)}`),
        h("div", { class: "shadow-parts" }, part("Desired", state.desired, "shadow-desired-view"), part("Reported", state.reported, "shadow-reported-view"), part("Delta", state.delta, "shadow-delta-view"))
      );
      if (!keepEditor) editor.value = pretty(state.desired || {});
    } catch (error) {
      if (error.status === 404) {
        fill(documentView, h("p", { class: "muted", id: "shadow-version" }, "No shadow yet: an update creates it."));
        if (!keepEditor) editor.value = "{}";
      } else {
        fill(documentView, h("p", { class: "error" }, error.message));
      }
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let desired;
    try {
      desired = JSON.parse(editor.value);
      if (desired === null || typeof desired !== "object" || Array.isArray(desired)) throw new Error("the desired state must be a JSON object");
      editor.removeAttribute("aria-invalid");
      problem.textContent = "";
    } catch (error) {
      editor.setAttribute("aria-invalid", "true");
      problem.textContent = `Not sent: ${error.message}`;
      return;
    }
    try {
      const answer = await aws("iotdata", "POST", path(), { state: { desired } });
      status(`Shadow of ${thing} updated to version ${answer.version}.`);
      await load(true);
    } catch (error) {
      problem.textContent = error.message;
      failed("Shadow update", error);
    }
  });
  picker.addEventListener("change", () => {
    shadowName = picker.value;
    load();
    listen();
  });

  // The shadow's documents topic says when anything changed it (the device's reports too).
  let source = null;
  const listen = () => {
    if (source) source.close();
    const topic = shadowName ? `$aws/things/${thing}/shadow/name/${shadowName}/update/documents` : `$aws/things/${thing}/shadow/update/documents`;
    const query = new URLSearchParams({ filter: topic, qos: "0", csrf: csrfToken() });
    source = new EventSource(`/console/api/mqtt/subscribe?${query}`);
    source.addEventListener("message", () => load(true));
  };
  await load();
  listen();
  return () => source && source.close();
}
