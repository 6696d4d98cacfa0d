// Certificates and CAs: every device certificate and CA certificate with its status, and status
// changes (activate, deactivate, revoke) after a confirmation. A change goes through the AWS
// API's UpdateCertificate / UpdateCACertificate, so the registry watcher closes the connections
// of a certificate that stops being ACTIVE, as it does for the AWS CLI.

import { aws, label } from "./api.js";
import { h, fill, table, status, failed, confirmAction, when, badge } from "./ui.js";

const TRANSITIONS = {
  ACTIVE: ["INACTIVE", "REVOKED"],
  INACTIVE: ["ACTIVE", "REVOKED"],
  PENDING_ACTIVATION: ["ACTIVE", "REVOKED"],
  PENDING_TRANSFER: [],
  REVOKED: [],
  REGISTER_INACTIVE: ["ACTIVE"],
};

const VERB = { ACTIVE: "Activate", INACTIVE: "Deactivate", REVOKED: "Revoke" };

export async function render(main, args) {
  const devices = h("div", { id: "certificates" });
  const cas = h("div", { id: "ca-certificates" });
  fill(
    main,
    h("h1", {}, "Certificates and CAs"),
    h("section", { class: "card", "aria-labelledby": "h-device-certs" }, h("h2", { id: "h-device-certs" }, "Device certificates"), devices),
    h("section", { class: "card", "aria-labelledby": "h-ca-certs" }, h("h2", { id: "h-ca-certs" }, "CA certificates"), cas)
  );
  const highlight = args[0];

  const change = async (kind, id, to) => {
    const what = kind === "ca" ? "CA certificate" : "certificate";
    const consequence =
      kind === "ca"
        ? ""
        : to === "ACTIVE"
          ? " Devices using it may connect again."
          : " Devices connected with it are disconnected now, and refused at the TLS handshake from now on.";
    const ok = await confirmAction(`${VERB[to]} ${what}?`, `${VERB[to]} ${what} ${id.slice(0, 10)}… (${to}).${consequence}${to === "REVOKED" ? " A revoked certificate cannot be activated again." : ""}`);
    if (!ok) {
      status("Nothing changed.");
      return;
    }
    try {
      const path = kind === "ca" ? `/cacertificate/${label(id)}?newStatus=${to}` : `/certificates/${label(id)}?newStatus=${to}`;
      await aws("iot", "PUT", path);
      status(`The ${what} ${id.slice(0, 10)} is now ${to}.`);
      await load();
    } catch (error) {
      failed(`${VERB[to]} ${what}`, error);
    }
  };

  const actions = (kind, c) =>
    h(
      "div",
      { class: "row-actions" },
      (TRANSITIONS[c.status] || [])
        .filter((to) => kind !== "ca" || to !== "REVOKED")
        .map((to) =>
          h("button", {
            class: to === "REVOKED" ? "danger" : "",
            "data-action": `${to}`,
            "data-certificate": c.certificateId,
            "aria-label": `${VERB[to]} ${kind === "ca" ? "CA certificate" : "certificate"} ${c.certificateId.slice(0, 10)}`,
            onclick: () => change(kind, c.certificateId, to),
          }, VERB[to])
        )
    );

  const load = async () => {
    try {
      const listed = [];
      let marker = "";
      do {
        const page = await aws("iot", "GET", `/certificates?pageSize=250${marker ? `&marker=${encodeURIComponent(marker)}` : ""}`);
        listed.push(...page.certificates);
        marker = page.nextMarker || "";
      } while (marker && listed.length < 5000);
      for (const c of listed) if (c.certificateId === highlight) c.__attributes = { class: "highlight" };
      fill(
        devices,
        table("Device certificates", [
          ["Id", (c) => h("span", { class: "mono", title: c.certificateId }, c.certificateId.slice(0, 10))],
          ["Status", (c) => badge(c.status)],
          ["Created", (c) => when(c.creationDate)],
          ["Change status", (c) => actions("device", c)],
        ], listed, { id: "certificates-table" })
      );
      const ca = await aws("iot", "GET", "/cacertificates?pageSize=250");
      fill(
        cas,
        table("CA certificates", [
          ["Id", (c) => h("span", { class: "mono", title: c.certificateId }, c.certificateId.slice(0, 10))],
          ["Status", (c) => badge(c.status)],
          ["Created", (c) => when(c.creationDate)],
          ["Change status", (c) => actions("ca", c)],
        ], ca.certificates || [])
      );
    } catch (error) {
      failed("Certificates", error);
    }
  };
  await load();
}
