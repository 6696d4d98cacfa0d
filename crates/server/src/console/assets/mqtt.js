// The MQTT test client: subscribe and publish from the browser. With tether serve's --wss
// listener it speaks MQTT over WebSockets itself (mqtt-ws.js), to a URL the server presigns with
// the caller's credential; otherwise — or when chosen — subscriptions come over a server-sent
// event stream from an in-process client and publishes go through iot-data Publish. Either way
// the broker admits and authorizes it like any client.

import { aws, consoleApi, csrfToken, label } from "./api.js";
import { MqttSocket } from "./mqtt-ws.js";
import { h, fill, status, failed, field, when } from "./ui.js";

const SHOWN = 200;

export async function render(main, _args, context) {
  const wssPort = context.whoami.wssPort;
  const transports = h(
    "fieldset",
    { class: "transport" },
    h("legend", {}, "Transport"),
    h("label", {}, h("input", { type: "radio", name: "transport", value: "wss", id: "transport-wss", checked: Boolean(wssPort), disabled: !wssPort }), ` MQTT over WebSockets${wssPort ? ` (wss port ${wssPort}, SigV4 presigned)` : " (start tether serve with --wss to enable)"}`),
    h("label", {}, h("input", { type: "radio", name: "transport", value: "sse", id: "transport-sse", checked: !wssPort }), " Server-sent events through tether")
  );
  const state = h("p", { id: "mqtt-state", role: "status" }, "Not connected.");
  const filter = h("input", { id: "sub-filter", value: "#", required: true });
  const subQos = h("select", { id: "sub-qos" }, h("option", { value: "0" }, "0"), h("option", { value: "1", selected: true }, "1"));
  const topic = h("input", { id: "pub-topic", value: "console/test", required: true });
  const pubQos = h("select", { id: "pub-qos" }, h("option", { value: "0" }, "0"), h("option", { value: "1", selected: true }, "1"));
  const retain = h("input", { type: "checkbox", id: "pub-retain" });
  const payload = h("textarea", { id: "pub-payload", rows: 4, class: "mono" }, '{"message": "hello from the tether console"}');
  const subscriptions = h("ul", { id: "subscriptions", class: "plain" });
  const messages = h("ol", { id: "mqtt-messages", class: "messages", "aria-live": "polite", reversed: true });

  const subscribeForm = h("form", { id: "subscribe-form", class: "grid-form" }, field("Topic filter", filter), field("QoS", subQos), h("button", { type: "submit", id: "subscribe" }, "Subscribe"));
  const publishForm = h(
    "form",
    { id: "publish-form", class: "grid-form" },
    field("Topic", topic),
    field("QoS", pubQos),
    h("div", { class: "field" }, h("label", {}, retain, " Retain")),
    field("Payload", payload),
    h("button", { type: "submit", id: "publish" }, "Publish")
  );
  fill(
    main,
    h("h1", {}, "MQTT test client"),
    transports,
    state,
    h("div", { class: "split" }, h("section", { class: "card", "aria-labelledby": "h-sub" }, h("h2", { id: "h-sub" }, "Subscribe"), subscribeForm, subscriptions), h("section", { class: "card", "aria-labelledby": "h-pub" }, h("h2", { id: "h-pub" }, "Publish"), publishForm)),
    h("section", { class: "card", "aria-labelledby": "h-messages" }, h("h2", { id: "h-messages" }, "Messages received"), messages)
  );

  const transport = () => main.querySelector("input[name=transport]:checked").value;
  const streams = [];
  let socket = null;

  const show = (topicName, text, qos, retained) => {
    messages.prepend(
      h("li", { class: "message", "data-topic": topicName }, h("p", {}, h("strong", { class: "mono" }, topicName), ` · QoS ${qos}${retained ? " · retained" : ""} · ${when(new Date().toISOString())}`), h("pre", { class: "mono payload" }, text))
    );
    while (messages.children.length > SHOWN) messages.lastChild.remove();
  };

  const connectSocket = async () => {
    if (socket) return socket;
    state.textContent = "Connecting over WebSockets…";
    const { url } = await consoleApi("mqtt/presign", { method: "POST", body: { host: location.hostname } });
    const clientId = `console-${Math.random().toString(16).slice(2, 10)}`;
    const candidate = new MqttSocket(url, clientId, {
      onMessage: (t, bytes, qos, retained) => show(t, new TextDecoder().decode(bytes), qos, retained),
      onClose: (reason) => {
        socket = null;
        state.textContent = `Disconnected: ${reason}`;
        fill(subscriptions);
      },
    });
    await candidate.ready;
    socket = candidate;
    state.textContent = `Connected over WebSockets as ${clientId}.`;
    return socket;
  };

  subscribeForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const wanted = filter.value.trim();
    const qos = Number(subQos.value);
    try {
      if (transport() === "wss") {
        const s = await connectSocket();
        const granted = await s.subscribe(wanted, qos);
        if (granted >= 0x80) throw new Error(`the broker refused the subscription to ${wanted}`);
        subscriptions.append(h("li", { class: "mono", "data-filter": wanted }, `${wanted} (QoS ${granted}, WebSocket)`));
        status(`Subscribed to ${wanted}.`);
      } else {
        const query = new URLSearchParams({ filter: wanted, qos: String(qos), csrf: csrfToken() });
        const source = new EventSource(`/console/api/mqtt/subscribe?${query}`);
        const entry = h("li", { class: "mono", "data-filter": wanted }, `${wanted} (subscribing…)`);
        subscriptions.append(entry);
        source.addEventListener("subscribed", (e) => {
          const answer = JSON.parse(e.data);
          entry.textContent = `${wanted} (${answer.granted ? `QoS ${qos}` : `refused: ${answer.reason}`}, server-sent events as ${answer.clientId})`;
          state.textContent = "Subscribed through tether's event stream.";
          status(`Subscribed to ${wanted}.`);
        });
        source.addEventListener("message", (e) => {
          const m = JSON.parse(e.data);
          show(m.topic, m.payload !== undefined ? m.payload : `(binary, base64) ${m.payloadBase64}`, m.qos, m.retain);
        });
        source.addEventListener("closed", (e) => {
          entry.textContent = `${wanted} (closed: ${JSON.parse(e.data).reason})`;
          source.close();
        });
        streams.push(source);
      }
    } catch (error) {
      failed("Subscribe", error);
    }
  });

  publishForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const qos = Number(pubQos.value);
    try {
      if (transport() === "wss") {
        const s = await connectSocket();
        await s.publish(topic.value, payload.value, qos, retain.checked);
      } else {
        const query = new URLSearchParams({ qos: String(qos) });
        if (retain.checked) query.set("retain", "true");
        await aws("iotdata", "POST", `/topics/${label(topic.value)}?${query}`, payload.value, true);
      }
      status(`Published to ${topic.value}.`);
    } catch (error) {
      failed("Publish", error);
    }
  });

  return () => {
    for (const source of streams) source.close();
    if (socket) socket.close();
  };
}
