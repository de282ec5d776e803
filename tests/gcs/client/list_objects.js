#!/usr/bin/env node
// Independent check of what eden uploaded: Google's official Node client lists a bucket prefix,
// downloads every object with the client's own hash validation, and prints one JSON line per
// object (name, size, contentType, md5Hash, crc32c as the server reports them, and the sha256,
// md5 and crc32c of the downloaded bytes).
// Usage: STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT node list_objects.js BUCKET PREFIX
"use strict";
const crypto = require("crypto");
const { Storage, CRC32C } = require("@google-cloud/storage");

async function main() {
  const [bucketName, prefix = ""] = process.argv.slice(2);
  const bucket = new Storage({ projectId: "test" }).bucket(bucketName);
  const [files] = await bucket.getFiles({ prefix });
  for (const f of files) {
    const [buf] = await f.download({ validation: "crc32c" });
    const c = new CRC32C();
    c.update(buf);
    const m = f.metadata;
    console.log(JSON.stringify({
      name: f.name, size: Number(m.size), contentType: m.contentType, md5Hash: m.md5Hash, crc32c: m.crc32c,
      bytes: buf.length, sha256: crypto.createHash("sha256").update(buf).digest("hex"),
      md5: crypto.createHash("md5").update(buf).digest("base64"), crc: c.toString(),
    }));
  }
}
main().catch((e) => { console.error("ERROR", e.code || "", e.message); process.exit(2); });
