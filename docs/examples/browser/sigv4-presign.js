// Presigns an AWS IoT WebSocket URL with SigV4 (query-string signature, service
// iotdevicegateway), the way a browser app without an SDK does it: WebCrypto's HMAC-SHA256 and
// SHA-256, no dependencies. The session token of temporary credentials is appended after
// signing, as AWS IoT requires. Works in browsers and in Node 20 (globalThis.crypto).
//
//   const url = await presignIotUrl({ host: "localhost:8443", region: "us-east-1",
//     accessKeyId: "test", secretAccessKey: "test", expires: 300 });
//   mqtt.connect(url, { protocolVersion: 5 });
(function (root) {
  const encoder = new TextEncoder();

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function sha256(text) {
    return hex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  }

  async function hmac(key, text) {
    const raw = typeof key === "string" ? encoder.encode(key) : key;
    const imported = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new Uint8Array(await crypto.subtle.sign("HMAC", imported, encoder.encode(text)));
  }

  // RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone).
  function uriEncode(text) {
    return encodeURIComponent(text).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  }

  async function presignIotUrl({ host, region, accessKeyId, secretAccessKey, sessionToken, expires = 300, path = "/mqtt", now = new Date() }) {
    const amzDate = now.toISOString().replace(/[:-]|\.\d{3}/g, "");
    const day = amzDate.slice(0, 8);
    const scope = `${day}/${region}/iotdevicegateway/aws4_request`;
    const params = [
      ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
      ["X-Amz-Credential", `${accessKeyId}/${scope}`],
      ["X-Amz-Date", amzDate],
      ["X-Amz-Expires", String(expires)],
      ["X-Amz-SignedHeaders", "host"],
    ];
    const query = params
      .map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`)
      .sort()
      .join("&");
    const canonical = ["GET", path, query, `host:${host}\n`, "host", await sha256("")].join("\n");
    const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, await sha256(canonical)].join("\n");
    let key = await hmac("AWS4" + secretAccessKey, day);
    for (const part of [region, "iotdevicegateway", "aws4_request"]) key = await hmac(key, part);
    const signature = hex(await hmac(key, toSign));
    let url = `wss://${host}${path}?${query}&X-Amz-Signature=${signature}`;
    if (sessionToken) url += `&X-Amz-Security-Token=${uriEncode(sessionToken)}`;
    return url;
  }

  root.presignIotUrl = presignIotUrl;
  if (typeof module !== "undefined") module.exports = { presignIotUrl };
})(typeof globalThis !== "undefined" ? globalThis : this);
