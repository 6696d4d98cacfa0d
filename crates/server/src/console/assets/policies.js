// Policies: every AWS IoT policy, its versions and their documents, and "would this be
// allowed?": a certificate, a client id, an action and a topic, answered by the broker's own
// authorizer over what the registry attaches to the certificate now (its policies and those its
// thing's groups pass on), with the statement or reason that decided.

import { aws, consoleApi, label } from "./api.js";
import { h, fill, table, failed, field, pretty, when, badge } from "./ui.js";

export async function render(main, args) {
  const list = h("div", { id: "policies" });
  const detail = h("section", { class: "card", "aria-labelledby": "h-policy", id: "policy-detail" });
  const evaluator = h("section", { class: "card", "aria-labelledby": "h-evaluate", id: "evaluator" });
  fill(
    main,
    h("h1", {}, "Policies"),
    h("div", { class: "split" }, h("section", { class: "card", "aria-labelledby": "h-policy-list" }, h("h2", { id: "h-policy-list" }, "Policies"), list), detail),
    evaluator
  );
  const policies = await aws("iot", "GET", "/policies?pageSize=250");
  fill(
    list,
    table("Policies", [["Name", (p) => h("a", { href: `#/policies/${encodeURIComponent(p.policyName)}` }, p.policyName)]], policies.policies || [])
  );
  if (args[0]) await showPolicy(detail, args[0]);
  else fill(detail, h("h2", { id: "h-policy" }, "Policy"), h("p", { class: "muted" }, "Choose a policy to see its versions."));
  await evaluatorForm(evaluator);
}

async function showPolicy(card, name) {
  const policy = await aws("iot", "GET", `/policies/${label(name)}`);
  const versions = await aws("iot", "GET", `/policies/${label(name)}/version`);
  const documentView = h("pre", { class: "mono", id: "policy-document" });
  const show = async (versionId) => {
    const version = await aws("iot", "GET", `/policies/${label(name)}/version/${label(versionId)}`);
    let text = version.policyDocument;
    try {
      text = pretty(JSON.parse(text));
    } catch {
      // A document is shown as stored when it is not JSON.
    }
    documentView.textContent = text;
  };
  const list = (versions.policyVersions || []).map((v) =>
    h("li", {}, h("button", { class: "link", onclick: () => show(v.versionId) }, `Version ${v.versionId}`), " ", v.isDefaultVersion ? badge("default", "active") : "", ` ${when(v.createDate)}`)
  );
  fill(card, h("h2", { id: "h-policy" }, name), h("p", { class: "mono small" }, policy.policyArn), h("h3", {}, "Versions"), h("ul", { class: "plain" }, list), h("h3", {}, "Document"), documentView);
  await show(policy.defaultVersionId);
}

async function evaluatorForm(card) {
  const certificates = await aws("iot", "GET", "/certificates?pageSize=250");
  const certificate = h("select", { id: "eval-certificate", required: true }, (certificates.certificates || []).map((c) => h("option", { value: c.certificateId }, `${c.certificateId.slice(0, 10)} (${c.status})`)));
  const clientId = h("input", { id: "eval-client", value: "demo-device", required: true });
  const action = h("select", { id: "eval-action" }, ["iot:Connect", "iot:Publish", "iot:RetainPublish", "iot:Subscribe", "iot:Receive"].map((a) => h("option", { value: a }, a)));
  const resource = h("input", { id: "eval-resource", placeholder: "topic or topic filter" });
  const sourceIp = h("input", { id: "eval-source", value: "127.0.0.1" });
  const answer = h("div", { id: "eval-answer", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "grid-form" },
    field("Certificate", certificate),
    field("Client id", clientId),
    field("Action", action),
    field("Topic or filter", resource, "Ignored for iot:Connect, whose resource is the client id."),
    field("Source address", sourceIp, "What aws:SourceIp conditions see."),
    h("button", { type: "submit", id: "eval-run" }, "Would this be allowed?")
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const result = await consoleApi("evaluate", {
        method: "POST",
        body: { certificateId: certificate.value, clientId: clientId.value, action: action.value, resource: resource.value, sourceIp: sourceIp.value },
      });
      fill(
        answer,
        h("p", { class: result.allowed ? "allowed" : "denied", id: "eval-verdict" }, result.allowed ? "Allowed" : "Denied"),
        h(
          "dl",
          { class: "facts" },
          result.action ? [h("dt", {}, "Action"), h("dd", {}, result.action)] : null,
          result.resource ? [h("dt", {}, "Resource"), h("dd", { class: "mono" }, result.resource)] : null,
          h("dt", {}, "Decided by"), h("dd", {}, result.decidedBy),
          result.policies ? [h("dt", {}, "Policies considered"), h("dd", {}, result.policies.join(", ") || "none")] : null
        )
      );
    } catch (error) {
      failed("Evaluation", error);
      fill(answer, h("p", { class: "error" }, error.message));
    }
  });
  fill(card, h("h2", { id: "h-evaluate" }, "Would this be allowed?"), form, answer);
}
