// The console's calls to tether serve: its own JSON routes under /console/api/, the AWS API's
// operations under /console/aws/SERVICE/ (answered exactly as the signed API answers them), and
// the one event stream every page listens to. Requests carry the CSRF token whoami hands out.

let csrf = "";

export function setCsrf(token) {
  csrf = token || "";
}

export function csrfToken() {
  return csrf;
}

async function call(url, { method = "GET", body, raw = false } = {}) {
  const headers = {};
  // Writes and every AWS operation carry the token (the server refuses them without it).
  if (csrf) headers["X-Tether-Csrf"] = csrf;
  let payload = body;
  if (body !== undefined && !raw) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  const text = await response.text();
  let value = null;
  try {
    value = text ? JSON.parse(text) : null;
  } catch {
    value = { message: text };
  }
  if (!response.ok) {
    const message = (value && (value.message || value.Message)) || response.statusText;
    const error = new Error(`${message} (HTTP ${response.status})`);
    error.status = response.status;
    error.body = value;
    throw error;
  }
  return value;
}

/** A console route: `console("sessions")`, `console("login", {method: "POST", body})`. */
export function consoleApi(path, options) {
  return call(`/console/api/${path}`, options);
}

/** An AWS API operation: `aws("iot", "GET", "/things/x")`. */
export function aws(service, method, path, body, raw = false) {
  return call(`/console/aws/${service}${path}`, { method, body, raw });
}

/** URI-encodes one path label the way the AWS API expects it. */
export function label(value) {
  return encodeURIComponent(value);
}

const listeners = new Map();
let source = null;

/** Calls `handler(data)` for each event `name` of the console's event stream. */
export function on(name, handler) {
  if (!listeners.has(name)) {
    listeners.set(name, new Set());
    if (source) attach(name);
  }
  listeners.get(name).add(handler);
  return () => listeners.get(name).delete(handler);
}

function attach(name) {
  source.addEventListener(name, (event) => {
    let data = null;
    try {
      data = JSON.parse(event.data);
    } catch {
      data = null;
    }
    for (const handler of listeners.get(name) || []) handler(data);
  });
}

/** Opens the event stream (once the caller is known to be let in). */
export function startEvents(onState) {
  if (source) return;
  source = new EventSource("/console/api/events");
  for (const name of listeners.keys()) attach(name);
  source.onopen = () => onState(true);
  source.onerror = () => onState(false);
}
