// Sessions: every session the broker holds — client id, principal, where it connected from,
// TLS version and cipher suite, MQTT version, subscriptions and queued messages — refreshed
// when the server says connections came or went, and a kick (MQTT 5: DISCONNECT 0x98) after a
// confirmation.

import { consoleApi, on } from "./api.js";
import { h, fill, table, status, failed, confirmAction, debounce, badge } from "./ui.js";

export async function render(main) {
  const list = h("div", { id: "sessions" });
  const count = h("p", { class: "muted", id: "session-count" });
  fill(main, h("h1", {}, "Sessions"), count, list);

  const kick = async (clientId) => {
    if (!(await confirmAction("Kick this client?", `Close the connection of ${clientId}. It may reconnect; its session is kept as after any disconnect.`))) {
      status("Nothing changed.");
      return;
    }
    try {
      await consoleApi(`sessions/${encodeURIComponent(clientId)}/kick`, { method: "POST" });
      status(`${clientId} was disconnected.`);
    } catch (error) {
      failed("Kick", error);
    }
  };

  const principal = (p) => {
    switch (p.kind) {
      case "certificate":
        return [h("a", { href: `#/certificates/${encodeURIComponent(p.id)}`, class: "mono" }, p.short), " certificate"];
      case "sigv4":
        return `access key ${p.id} (SigV4)`;
      case "custom-authorizer":
        return `${p.id} of authorizer ${p.authorizer}`;
      case "bridge":
        return `bridge ${p.id} (local side)`;
      default:
        return p.kind;
    }
  };

  const load = async () => {
    try {
      const { sessions } = await consoleApi("sessions");
      for (const s of sessions) s.__attributes = { "data-client-id": s.clientId, "data-connected": s.connected ? "yes" : "no" };
      const live = sessions.filter((s) => s.connected).length;
      count.textContent = `${live} connected, ${sessions.length - live} offline persistent session${sessions.length - live === 1 ? "" : "s"}.`;
      fill(
        list,
        table("Sessions", [
          ["Client id", (s) => h("strong", {}, s.clientId)],
          ["State", (s) => (s.connected ? badge("connected", "active") : badge("offline", "inactive"))],
          ["Principal", (s) => principal(s.principal)],
          ["From", (s) => [s.principal.peer || "", s.principal.listener ? ` (${s.principal.listener})` : ""]],
          ["TLS", (s) => (s.principal.tlsVersion ? [s.principal.tlsVersion, h("br"), h("small", { class: "mono" }, s.principal.cipher)] : "")],
          ["MQTT", (s) => s.protocol],
          ["Subscriptions", (s) => (s.subscriptions.length ? h("ul", { class: "plain" }, s.subscriptions.map((sub) => h("li", { class: "mono" }, `${sub.filter} (QoS ${sub.qos})`))) : h("span", { class: "muted" }, "none"))],
          ["Queued", (s) => s.queued],
          ["", (s) => (s.connected ? h("button", { class: "danger", "data-kick": s.clientId, "aria-label": `Kick ${s.clientId}`, onclick: () => kick(s.clientId) }, "Kick") : "")],
        ], sessions, { id: "sessions-table" })
      );
    } catch (error) {
      failed("Sessions", error);
    }
  };
  await load();
  return on("sessions", debounce(load, 200));
}
