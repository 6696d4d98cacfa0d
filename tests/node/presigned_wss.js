// MQTT.js under Node against tether serve's MQTT over WebSockets, with a SigV4-presigned URL
// made by the same presigner the browser example uses (docs/examples/browser/sigv4-presign.js).
// Driven by crates/cli/tests/e2e/websockets.rs:
//
//   node presigned_wss.js HOST:PORT CA_FILE
//
// with NODE_PATH pointing at the node_modules scripts/setup installed. Two MQTT 5 clients:
// one subscribes at QoS 1, the other publishes at QoS 1; the subscriber must receive the
// message. Prints one line per check; exits non-zero on the first failure.
const fs = require("fs");
const path = require("path");
const mqtt = require("mqtt");
const { presignIotUrl } = require(path.join(__dirname, "../../docs/examples/browser/sigv4-presign.js"));

const [address, caFile] = process.argv.slice(2);
const ca = fs.readFileSync(caFile);
let checks = 0;

function check(condition, what) {
  if (!condition) throw new Error(what);
  checks += 1;
  console.log(`ok: ${what}`);
}

async function connect(clientId) {
  const url = await presignIotUrl({
    host: address.replace(/^127\.0\.0\.1/, "localhost"),
    region: "us-east-1",
    accessKeyId: process.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
    sessionToken: process.env.AWS_SESSION_TOKEN,
  });
  const client = mqtt.connect(url, { protocolVersion: 5, clientId, ca, reconnectPeriod: 0, wsOptions: { ca } });
  await new Promise((resolve, reject) => {
    client.once("connect", resolve);
    client.once("error", reject);
  });
  check(true, `${clientId} connected over wss with a presigned URL`);
  return client;
}

async function main() {
  const timer = setTimeout(() => {
    console.error("timed out");
    process.exit(1);
  }, 15000);
  const subscriber = await connect("node-sub");
  const granted = await subscriber.subscribeAsync("node/wss/#", { qos: 1 });
  check(granted[0].qos === 1, `subscription granted at QoS 1 (got ${granted[0].qos})`);
  const received = new Promise((resolve) => subscriber.once("message", (topic, payload, packet) => resolve({ topic, payload, packet })));
  const publisher = await connect("node-pub");
  const ack = await publisher.publishAsync("node/wss/t", "from node", { qos: 1 });
  // MQTT.js resolves a QoS 1 publish once its PUBACK arrives, and rejects one refused in it.
  check(ack && ack.qos === 1 && ack.messageId > 0, "the QoS 1 publish was acknowledged (PUBACK)");
  const message = await received;
  check(message.payload.toString() === "from node", `the subscriber received ${message.payload}`);
  check(message.packet.qos === 1, "at QoS 1");
  await publisher.endAsync();
  await subscriber.endAsync();
  clearTimeout(timer);
  console.log(`${checks} checks passed`);
}

main().catch((err) => {
  console.error(`failed: ${err.message}`);
  process.exit(1);
});
