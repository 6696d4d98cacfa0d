// Small DOM helpers: elements built with textContent (never innerHTML, so no record text can
// become markup), tables with real headers, the status line, and the confirmation dialog.

/** `h("a", {href: "#/x"}, "text", child)`: an element. Attributes starting with "on" are listeners. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.className = value;
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** A table: `columns` are [header, cell(row)] pairs; `caption` names it for screen readers. */
export function table(caption, columns, rows, attributes = {}) {
  return h(
    "table",
    attributes,
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", { scope: "col" }, title)))),
    h(
      "tbody",
      {},
      rows.length
        ? rows.map((row) => h("tr", row.__attributes || {}, columns.map(([, cell]) => h("td", {}, cell(row)))))
        : h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, "Nothing to show."))
    )
  );
}

/** Replaces the content of `element`. */
export function fill(element, ...children) {
  element.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
  return element;
}

/** Says something in the status line (read out by screen readers). */
export function status(text, kind = "info") {
  const line = document.getElementById("status");
  line.textContent = text;
  line.dataset.kind = kind;
}

/** Reports an error in the status line. */
export function failed(what, error) {
  status(`${what}: ${error.message}`, "error");
}

/** Asks for confirmation in a modal dialog; resolves true when confirmed. */
export function confirmAction(title, text) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

/** A labelled form control: `field("Topic", input)`. */
export function field(text, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const parts = [h("label", { for: id }, text), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("small", { id: hintId, class: "muted" }, hint));
  }
  return h("div", { class: "field" }, parts);
}

/** JSON pretty-printed for a <pre>. */
export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

/** A time for people: local time of an epoch-seconds or RFC 3339 value. */
export function when(value) {
  if (value === undefined || value === null || value === "") return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

/** Calls `fn` at most once per `ms` after the last call. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A status badge. */
export function badge(text, kind = text) {
  return h("span", { class: `badge badge-${String(kind).toLowerCase()}` }, text);
}
