// Refusals: the record of every handshake, registry, policy, limit and protocol refusal (newest
// first), each with the doctor's explanation — why this kind happens and the usual fix — and
// filters by kind and text. New records arrive as the server records them.

import { consoleApi, on } from "./api.js";
import { h, fill, failed, field, when, debounce } from "./ui.js";

export async function render(main) {
  const kind = h("select", { id: "refusal-kind" }, h("option", { value: "" }, "every kind"));
  const text = h("input", { type: "search", id: "refusal-text", placeholder: "client id, certificate, topic, address…" });
  const list = h("ol", { id: "refusal-list", class: "refusals", "aria-live": "polite" });
  const count = h("p", { class: "muted", id: "refusal-count" });
  fill(
    main,
    h("h1", {}, "Refusals"),
    h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() }, field("Kind", kind), field("Contains", text)),
    count,
    list
  );

  const item = (r) =>
    h(
      "li",
      { class: "refusal card", "data-kind": r.kind },
      h("p", {}, h("strong", { class: "kind" }, r.kind), " ", h("time", { datetime: r.time }, when(r.time)), " · ", r.listener, " · ", r.peer),
      h("p", { class: "reason" }, r.reason),
      h(
        "dl",
        { class: "facts" },
        r.principal ? [h("dt", {}, "Principal"), h("dd", { class: "mono" }, r.principal)] : null,
        r.client_id ? [h("dt", {}, "Client id"), h("dd", {}, r.client_id)] : null,
        r.action ? [h("dt", {}, "Action"), h("dd", {}, r.action)] : null,
        r.resource ? [h("dt", {}, "Resource"), h("dd", { class: "mono" }, r.resource)] : null,
        r.decided_by ? [h("dt", {}, "Decided by"), h("dd", {}, r.decided_by)] : null,
        r.offered ? [h("dt", {}, "Offered"), h("dd", {}, r.offered)] : null
      ),
      h(
        "details",
        { open: true },
        h("summary", {}, "Explanation"),
        h("p", { class: "why" }, h("strong", {}, "Why: "), r.why),
        h("p", { class: "fix" }, h("strong", {}, "Fix: "), r.fix)
      )
    );

  const matches = (r) => {
    if (kind.value && r.kind !== kind.value) return false;
    const needle = text.value.trim().toLowerCase();
    if (!needle) return true;
    return [r.reason, r.peer, r.listener, r.principal, r.client_id, r.action, r.resource, r.decided_by].some((f) => f && f.toLowerCase().includes(needle));
  };

  let shown = 0;
  const load = async () => {
    try {
      const query = new URLSearchParams({ kind: kind.value, q: text.value });
      const answer = await consoleApi(`refusals?${query}`);
      if (kind.options.length === 1) for (const k of answer.kinds) kind.append(h("option", { value: k }, k));
      shown = answer.refusals.length;
      count.textContent = `${shown} refusal${shown === 1 ? "" : "s"} shown.`;
      fill(list, answer.refusals.map(item));
    } catch (error) {
      failed("Refusals", error);
    }
  };
  kind.addEventListener("change", load);
  text.addEventListener("input", debounce(load, 250));
  await load();
  return on("refusal", (record) => {
    if (!matches(record)) return;
    list.prepend(item(record));
    shown += 1;
    count.textContent = `${shown} refusal${shown === 1 ? "" : "s"} shown.`;
  });
}
