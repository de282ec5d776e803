#!/usr/bin/env node
// Reference for bench/run_upload_bench.sh: Google's official Node client uploads the same
// files, N at a time (resumable for objects over 8 MiB, as eden does; crc32c validation on).
// Usage: STORAGE_EMULATOR_HOST=... node upload_node_client.js BUCKET PREFIX N DIR...
"use strict";
const fs = require("fs");
const path = require("path");
const { Storage } = require(path.join(__dirname, "../tests/gcs/client/node_modules/@google-cloud/storage"));

async function main() {
  const [bucketName, prefix, n, ...dirs] = process.argv.slice(2);
  const bucket = new Storage({ projectId: "bench" }).bucket(bucketName);
  const files = dirs.flatMap((d) => fs.readdirSync(d).map((f) => path.join(d, f)));
  let next = 0, bytes = 0;
  const start = process.hrtime.bigint();
  async function worker() {
    for (let i = next++; i < files.length; i = next++) {
      const size = fs.statSync(files[i]).size;
      await bucket.upload(files[i], {
        destination: `${prefix}/${path.basename(path.dirname(files[i]))}/${path.basename(files[i])}`,
        resumable: size > 8 * 1024 * 1024, validation: "crc32c",
      });
      bytes += size;
    }
  }
  await Promise.all(Array.from({ length: Number(n) }, worker));
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`node client, concurrency ${n}: ${files.length} objects, ${(bytes / 1e6).toFixed(1)} MB in ` +
    `${s.toFixed(2)} s: ${(files.length / s).toFixed(1)} objects/s, ${(bytes / 1e6 / s).toFixed(1)} MB/s`);
}
main().catch((e) => { console.error("ERROR", e.message); process.exit(2); });
