// A minimal MQTT 3.1.1 client over WebSockets (subprotocol "mqtt") for the test client page:
// CONNECT, SUBSCRIBE, PUBLISH at QoS 0 and 1 both ways, PUBACK, PINGREQ. Enough to talk to
// tether serve's --wss listener (or AWS IoT) with a presigned URL; no reconnect, no QoS 2, no
// persistence. Written for this page so the console needs no library.

const encoder = new TextEncoder();

function utf8(text) {
  const bytes = encoder.encode(text);
  return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
}

function remainingLength(n) {
  const out = [];
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 0x80;
    out.push(digit);
  } while (n > 0);
  return out;
}

function packet(first, body) {
  return new Uint8Array([first, ...remainingLength(body.length), ...body]);
}

export class MqttSocket {
  /** Connects to `url` as `clientId`; `handlers` has onMessage(topic, bytes, qos, retain), onClose(reason). */
  constructor(url, clientId, handlers) {
    this.handlers = handlers;
    this.nextId = 1;
    this.pending = new Map();
    this.buffer = new Uint8Array(0);
    this.socket = new WebSocket(url, ["mqtt"]);
    this.socket.binaryType = "arraybuffer";
    this.ready = new Promise((resolve, reject) => {
      this.connected = { resolve, reject };
    });
    this.socket.onopen = () => {
      const keepAlive = 60;
      const body = [...utf8("MQTT"), 4, 0x02, keepAlive >> 8, keepAlive & 0xff, ...utf8(clientId)];
      this.socket.send(packet(0x10, body));
      this.ping = setInterval(() => this.socket.send(new Uint8Array([0xc0, 0])), 30000);
    };
    this.socket.onmessage = (event) => this.receive(new Uint8Array(event.data));
    this.socket.onclose = (event) => {
      clearInterval(this.ping);
      const reason = event.reason || `WebSocket closed (code ${event.code})`;
      this.connected.reject(new Error(reason));
      for (const { reject } of this.pending.values()) reject(new Error(reason));
      this.pending.clear();
      if (this.handlers.onClose) this.handlers.onClose(reason);
    };
  }

  id() {
    const id = this.nextId;
    this.nextId = (this.nextId % 65535) + 1;
    return id;
  }

  wait(id) {
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  /** Subscribes; resolves with the granted QoS (0x80 is a refusal). */
  subscribe(filter, qos) {
    const id = this.id();
    this.socket.send(packet(0x82, [id >> 8, id & 0xff, ...utf8(filter), qos]));
    return this.wait(id);
  }

  /** Publishes; at QoS 1 resolves on PUBACK. */
  publish(topic, payload, qos, retain) {
    const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
    const first = 0x30 | (qos << 1) | (retain ? 1 : 0);
    if (qos === 0) {
      this.socket.send(packet(first, [...utf8(topic), ...bytes]));
      return Promise.resolve();
    }
    const id = this.id();
    this.socket.send(packet(first, [...utf8(topic), id >> 8, id & 0xff, ...bytes]));
    return this.wait(id);
  }

  close() {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(new Uint8Array([0xe0, 0]));
    this.socket.close();
  }

  receive(chunk) {
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer);
    joined.set(chunk, this.buffer.length);
    this.buffer = joined;
    for (;;) {
      let length = 0;
      let multiplier = 1;
      let i = 1;
      for (; i < 5 && i < this.buffer.length; i += 1) {
        length += (this.buffer[i] & 0x7f) * multiplier;
        multiplier *= 128;
        if (!(this.buffer[i] & 0x80)) break;
      }
      if (i >= this.buffer.length || this.buffer.length < i + 1 + length) return;
      const first = this.buffer[0];
      const body = this.buffer.slice(i + 1, i + 1 + length);
      this.buffer = this.buffer.slice(i + 1 + length);
      this.handle(first, body);
    }
  }

  handle(first, body) {
    const type = first >> 4;
    if (type === 2) {
      if (body[1] === 0) this.connected.resolve();
      else this.connected.reject(new Error(`CONNACK return code ${body[1]}`));
    } else if (type === 3) {
      const qos = (first >> 1) & 3;
      const topicLength = (body[0] << 8) | body[1];
      const topic = new TextDecoder().decode(body.slice(2, 2 + topicLength));
      let offset = 2 + topicLength;
      if (qos > 0) {
        const id = (body[offset] << 8) | body[offset + 1];
        offset += 2;
        this.socket.send(new Uint8Array([0x40, 2, id >> 8, id & 0xff]));
      }
      this.handlers.onMessage(topic, body.slice(offset), qos, Boolean(first & 1));
    } else if (type === 4 || type === 9) {
      const id = (body[0] << 8) | body[1];
      const waiter = this.pending.get(id);
      this.pending.delete(id);
      if (waiter) waiter.resolve(type === 9 ? body[2] : undefined);
    }
  }
}
