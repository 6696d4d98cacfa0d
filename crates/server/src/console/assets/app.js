// The console's shell: asks who the caller is (loopback opens directly; elsewhere the login
// form exchanges an access key and secret for a session cookie), then shows the page the URL's
// hash names and keeps the event stream open. Each page is a module with `render(main, args)`
// returning an optional cleanup function.

import { consoleApi, setCsrf, startEvents } from "./api.js";
import { h, fill, status, failed, field } from "./ui.js";
import * as overview from "./overview.js";
import * as things from "./things.js";
import * as certificates from "./certificates.js";
import * as policies from "./policies.js";
import * as sessions from "./sessions.js";
import * as refusals from "./refusals.js";
import * as mqtt from "./mqtt.js";

const pages = {
  overview: ["Overview", overview],
  things: ["Things", things],
  certificates: ["Certificates and CAs", certificates],
  policies: ["Policies", policies],
  sessions: ["Sessions", sessions],
  refusals: ["Refusals", refusals],
  mqtt: ["MQTT test client", mqtt],
};

export const context = { whoami: null };
let cleanup = null;

async function show() {
  const main = document.getElementById("main");
  const [name = "overview", ...args] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const [title, page] = pages[name] || pages.overview;
  if (cleanup) {
    try {
      cleanup();
    } catch (e) {
      console.error(e);
    }
    cleanup = null;
  }
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${title} · tether console`;
  fill(main, h("p", {}, "Loading…"));
  try {
    cleanup = (await page.render(main, args, context)) || null;
  } catch (error) {
    fill(main, h("h1", {}, title), h("p", { class: "error" }, error.message));
    failed(title, error);
  }
}

function loginPage() {
  const main = document.getElementById("main");
  const key = h("input", { name: "accessKeyId", autocomplete: "username", required: true });
  const secret = h("input", { name: "secretAccessKey", type: "password", autocomplete: "current-password", required: true });
  const form = h(
    "form",
    { class: "card narrow", id: "login" },
    h("h1", {}, "Log in"),
    h("p", {}, "This tether serve's API listens beyond loopback: use one of its API access keys (api-credentials in its configuration)."),
    field("Access key id", key),
    field("Secret access key", secret),
    h("button", { type: "submit" }, "Log in")
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await consoleApi("login", { method: "POST", body: { accessKeyId: key.value, secretAccessKey: secret.value } });
      status("Logged in.");
      await start();
    } catch (error) {
      failed("Login refused", error);
    }
  });
  document.getElementById("nav").hidden = true;
  fill(main, form);
  key.focus();
}

async function logout() {
  try {
    await consoleApi("logout", { method: "POST" });
  } finally {
    location.reload();
  }
}

async function start() {
  const who = await consoleApi("whoami");
  context.whoami = who;
  if (!who.authenticated) {
    loginPage();
    return;
  }
  setCsrf(who.csrf);
  document.getElementById("nav").hidden = false;
  const line = document.getElementById("who");
  const live = h("span", { id: "live", class: "live" }, "connecting…");
  fill(
    line,
    who.loopback ? "loopback, as the development credential" : `as ${who.accessKeyId}`,
    ` · ${who.region} · `,
    live,
    who.loopback ? null : h("button", { class: "link", onclick: logout }, "Log out")
  );
  startEvents((open) => {
    live.textContent = open ? "live" : "reconnecting…";
    live.dataset.open = open ? "yes" : "no";
  });
  window.addEventListener("hashchange", show);
  await show();
}

start().catch((error) => {
  fill(document.getElementById("main"), h("p", { class: "error" }, `The console could not start: ${error.message}`));
});
