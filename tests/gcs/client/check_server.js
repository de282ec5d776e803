#!/usr/bin/env node
// Drives the GCS test server with Google's official Node client (@google-cloud/storage) and
// checks the behaviour eden relies on, as real GCS documents it. Prints one line per check and
// exits non-zero if any failed.
// Usage: STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT node check_server.js BUCKET
"use strict";
const crypto = require("crypto");
const { Storage, CRC32C } = require("@google-cloud/storage");

const results = [];
async function check(name, fn) {
  try {
    const detail = await fn();
    results.push(true);
    console.log(`OK   ${name}${detail ? " " + JSON.stringify(detail) : ""}`);
  } catch (e) {
    results.push(false);
    console.log(`FAIL ${name}: ${e.code || ""} ${e.message}`);
  }
}
function assert(cond, what) { if (!cond) throw new Error(what); }
function hashes(buf) {
  const c = new CRC32C(); c.update(buf);
  return { md5: crypto.createHash("md5").update(buf).digest("base64"), crc32c: c.toString() };
}
function bytes(n, seed) {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24; }
  return b;
}

async function main() {
  const bucketName = process.argv[2];
  const storage = new Storage({ projectId: "test" });  // endpoint from STORAGE_EMULATOR_HOST, no auth
  const bucket = storage.bucket(bucketName);
  const small = bytes(1000, 1), big = bytes(1048576 + 123, 2), chunked = bytes(3 * 262144 + 7, 3);

  await check("bucket.exists()", async () => { const [e] = await bucket.exists(); assert(e, "bucket missing"); });
  await check("unknown bucket is 404", async () => {
    const [e] = await storage.bucket("no-such-bucket-here").exists(); assert(!e, "exists() said true");
  });
  for (const [label, name, data, opts] of [
    ["save resumable:false (multipart)", "t/small.bin", small, { resumable: false }],
    ["save resumable:true (one streamed PUT)", "t/big.bin", big, { resumable: true }],
    ["save resumable:true chunkSize 256 KiB", "t/chunked.bin", chunked, { resumable: true, chunkSize: 262144 }],
  ]) {
    await check(label, async () => {
      await bucket.file(name).save(data, { ...opts, validation: "crc32c", contentType: "application/dicom" });
      const [m] = await bucket.file(name).getMetadata();
      const h = hashes(data);
      assert(String(m.size) === String(data.length), `size ${m.size} != ${data.length}`);
      assert(m.md5Hash === h.md5, `md5Hash ${m.md5Hash} != ${h.md5}`);
      assert(m.crc32c === h.crc32c, `crc32c ${m.crc32c} != ${h.crc32c}`);
      assert(m.contentType === "application/dicom", `contentType ${m.contentType}`);
      return { size: m.size, crc32c: m.crc32c };
    });
  }
  await check("upload() of a file from disk (resumable)", async () => {
    const fs = require("fs"), os = require("os"), path = require("path");
    const p = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "gcs-check-")), "report.csv");
    fs.writeFileSync(p, "a,b\n1,\"x, y\"\n");
    await bucket.upload(p, { destination: "t/report.csv", resumable: true, contentType: "text/csv" });
    const [m] = await bucket.file("t/report.csv").getMetadata();
    assert(m.contentType === "text/csv" && m.size == 13, JSON.stringify(m));
  });
  await check("download() with crc32c and md5 validation", async () => {
    for (const v of ["crc32c", "md5"]) {
      const [buf] = await bucket.file("t/big.bin").download({ validation: v });
      assert(buf.equals(big), `${v}: downloaded bytes differ`);
    }
  });
  await check("download() of a byte range", async () => {
    const [buf] = await bucket.file("t/big.bin").download({ start: 10, end: 19 });
    assert(buf.equals(big.subarray(10, 20)), "range bytes differ");
  });
  await check("getFiles() with prefix and pages of 2", async () => {
    const names = [];
    let query = { prefix: "t/", maxResults: 2, autoPaginate: false }, pages = 0;
    while (query) {
      const [files, next] = await bucket.getFiles(query);
      assert(files.length <= 2, `page of ${files.length}`);
      names.push(...files.map((f) => f.name));
      query = next;
      pages++;
    }
    assert(JSON.stringify(names) === JSON.stringify(["t/big.bin", "t/chunked.bin", "t/report.csv", "t/small.bin"]),
      names.join(","));
    const [all] = await bucket.getFiles({ prefix: "t/" });
    assert(all.length === 4, `autoPaginate listed ${all.length}`);
    return { objects: names.length, pages };
  });
  await check("getFiles() with a delimiter lists prefixes", async () => {
    await bucket.file("t/sub/x.txt").save("x", { resumable: false });
    const [files, , resp] = await bucket.getFiles({ prefix: "t/", delimiter: "/", autoPaginate: false });
    assert(!files.some((f) => f.name.startsWith("t/sub/")), "nested object listed");
    assert(JSON.stringify(resp.prefixes) === JSON.stringify(["t/sub/"]), JSON.stringify(resp.prefixes));
  });
  await check("ifGenerationMatch:0 onto an existing object fails with 412", async () => {
    try {
      await bucket.file("t/small.bin").save(small, { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    } catch (e) {
      assert(e.code === 412, `code ${e.code}`);
      return { code: e.code };
    }
    throw new Error("overwrote the object");
  });
  await check("ifGenerationMatch:0 onto a new name succeeds, once", async () => {
    await bucket.file("t/new.bin").save(small, { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    const [m] = await bucket.file("t/new.bin").getMetadata();
    await bucket.file("t/new.bin").save(small, { resumable: false,
      preconditionOpts: { ifGenerationMatch: Number(m.generation) } });
  });
  await check("resumable ifGenerationMatch:0 onto an existing object fails with 412", async () => {
    try {
      await bucket.file("t/big.bin").save(big, { resumable: true, preconditionOpts: { ifGenerationMatch: 0 } });
    } catch (e) {
      const code = e.code || (e.response && e.response.status) || (e.errors && e.errors[0] && e.errors[0].code);
      assert(code === 412 || /pre-conditions/.test(e.message), `code ${code} ${e.message} ${Object.keys(e)}`);
      return { code: code };
    }
    throw new Error("overwrote the object");
  });
  await check("a wrong md5Hash in the metadata is rejected and creates nothing", async () => {
    try {
      await bucket.file("t/badmd5.bin").save(small, { resumable: false, metadata: { md5Hash: "AAAAAAAAAAAAAAAAAAAAAA==" } });
    } catch (e) {
      assert(e.code === 400, `code ${e.code}`);
      const [e2] = await bucket.file("t/badmd5.bin").exists();
      assert(!e2, "object created");
      return;
    }
    throw new Error("accepted");
  });
  await check("delete() then exists() is false", async () => {
    await bucket.file("t/new.bin").delete();
    const [e] = await bucket.file("t/new.bin").exists();
    assert(!e, "still exists");
  });
  await check("getMetadata() of a missing object is 404", async () => {
    try { await bucket.file("t/missing.bin").getMetadata(); } catch (e) { assert(e.code === 404, `code ${e.code}`); return; }
    throw new Error("found");
  });
  const failed = results.filter((r) => !r).length;
  console.log(`${results.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => { console.error("ERROR", e.code || "", e.message); process.exit(2); });
