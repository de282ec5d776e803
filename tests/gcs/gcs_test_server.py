#!/usr/bin/python3
"""A Google Cloud Storage JSON API v1 test server, for eden's tests only (never the product).

Implements what eden and Google's official clients use, as Google documents it:
  - uploads: media, multipart (multipart/related) and resumable (session URI; PUT chunks with
    Content-Range; 308 + Range; status query `bytes */N`; streamed `bytes A-*/*`); non-final chunks
    must be multiples of 256 KiB; a chunk cut mid-body commits only whole 256 KiB blocks;
  - integrity: md5Hash / crc32c given in the upload metadata are checked (400 on mismatch, object
    not created); every object has md5Hash and crc32c (base64, big-endian CRC32C);
  - preconditions: ifGenerationMatch / ifGenerationNotMatch / ifMetagenerationMatch (412, 304);
  - objects: GET metadata, alt=media downloads (with x-goog-hash, Range), DELETE, listing with
    prefix, delimiter, maxResults, pageToken; buckets: GET, POST (create), list;
  - auth (--auth): every storage call needs a Bearer token this server issued and that has not
    expired (401 otherwise). It is also the OAuth2 token endpoint (/token): JWT-bearer grants
    (RS256 signature verified with the service account's public key by the `openssl` CLI) and
    refresh-token grants; and the GCE metadata server's token path.
Objects live on disk under --root (data + JSON metadata), so tests can inspect them.
GET /_test/stats returns counters: requests by kind, finalized uploads per object name, tokens;
POST /_test/revoke-tokens makes every issued token invalid (a revoked or expired token);
POST /_test/token-lifetime?seconds=N sets the lifetime of the tokens issued from then on.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import crc32c as _crc32c_mod  # Debian python3-crc32c (hardware CRC32C)

    def crc32c(data: bytes, value: int = 0) -> int:
        return _crc32c_mod.crc32c(data, value)
except ImportError:  # pragma: no cover - fallback for machines without it
    import crcmod.predefined

    _crcfun = crcmod.predefined.mkPredefinedCrcFun("crc-32c")

    def crc32c(data: bytes, value: int = 0) -> int:
        return _crcfun(data, value)


CHUNK = 256 * 1024


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def crc_b64(value: int) -> str:
    return b64(value.to_bytes(4, "big"))


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class GcsError(Exception):
    def __init__(self, code, message, reason="invalid", headers=None):
        super().__init__(message)
        self.code, self.message, self.reason, self.headers = code, message, reason, headers or {}


class State:
    """Buckets, objects, upload sessions, tokens, counters. One lock; objects on disk."""

    def __init__(self, root, buckets, auth, sa_public_key, sa_email, authorized_user, token_lifetime):
        self.root = root
        self.lock = threading.Lock()
        self.objects = {}  # (bucket, name) -> metadata dict
        self.buckets = {}
        self.sessions = {}
        self.tokens = {}  # token -> expiry (epoch seconds)
        self.auth = auth
        self.sa_public_key = sa_public_key
        self.sa_email = sa_email
        self.authorized_user = authorized_user
        self.token_lifetime = token_lifetime
        self.last_generation = 0
        self.stats = {"requests": {}, "finalized": {}, "tokens": {}, "unauthorized": 0, "uploads_rejected": {},
                      "resent_bytes": 0, "ignored_committed_offset": 0,
                      "status_queries_with_progress": 0}
        os.makedirs(os.path.join(root, "objects"), exist_ok=True)
        for b in buckets:
            self.create_bucket(b)

    def count(self, kind):
        with self.lock:
            self.stats["requests"][kind] = self.stats["requests"].get(kind, 0) + 1

    def next_generation(self):
        g = max(int(time.time() * 1e6), self.last_generation + 1)
        self.last_generation = g
        return g

    def create_bucket(self, name):
        with self.lock:
            if name in self.buckets:
                raise GcsError(409, "You already own this bucket. Please select another name.", "conflict")
            now = iso_now()
            self.buckets[name] = {"kind": "storage#bucket", "id": name, "name": name, "projectNumber": "0",
                                  "metageneration": "1", "location": "US", "storageClass": "STANDARD",
                                  "etag": "CAE=", "timeCreated": now, "updated": now}
            os.makedirs(self.data_dir(name), exist_ok=True)
            return self.buckets[name]

    def data_dir(self, bucket):
        return os.path.join(self.root, "objects", bucket)

    def data_path(self, bucket, name):
        return os.path.join(self.data_dir(bucket), urllib.parse.quote(name, safe=""))

    def bucket(self, name):
        b = self.buckets.get(name)
        if b is None:
            raise GcsError(404, "The specified bucket does not exist.", "notFound")
        return b

    def get(self, bucket, name):
        self.bucket(bucket)
        meta = self.objects.get((bucket, name))
        if meta is None:
            raise GcsError(404, f"No such object: {bucket}/{name}", "notFound")
        return meta

    def finalize(self, bucket, name, data, resource, preconditions, content_type):
        """Creates an object: checks supplied hashes, then preconditions, then writes it."""
        md5 = b64(hashlib.md5(data).digest())
        crc = crc_b64(crc32c(data))
        if resource.get("md5Hash") and resource["md5Hash"] != md5:
            self.reject(name, "md5")
            raise GcsError(400, f'Provided MD5 hash "{resource["md5Hash"]}" doesn\'t match calculated MD5 hash "{md5}".')
        if resource.get("crc32c") and resource["crc32c"] != crc:
            self.reject(name, "crc32c")
            raise GcsError(400, f'Provided CRC32C "{resource["crc32c"]}" doesn\'t match calculated CRC32C "{crc}".')
        with self.lock:
            self.bucket(bucket)
            check_preconditions(self.objects.get((bucket, name)), preconditions)
            gen = self.next_generation()
            path = self.data_path(bucket, name)
            tmp = path + ".part-" + uuid.uuid4().hex
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
            now = iso_now()
            quoted = urllib.parse.quote(name, safe="")
            meta = {
                "kind": "storage#object", "id": f"{bucket}/{name}/{gen}", "name": name, "bucket": bucket,
                "generation": str(gen), "metageneration": "1",
                "contentType": content_type or resource.get("contentType") or "application/octet-stream",
                "storageClass": "STANDARD", "size": str(len(data)), "md5Hash": md5, "crc32c": crc,
                "etag": b64(hashlib.md5(f"{gen}".encode()).digest())[:16], "timeCreated": now, "updated": now,
                "timeStorageClassUpdated": now,
                "selfLink": f"/storage/v1/b/{bucket}/o/{quoted}",
                "mediaLink": f"/download/storage/v1/b/{bucket}/o/{quoted}?generation={gen}&alt=media",
            }
            if resource.get("metadata"):
                meta["metadata"] = resource["metadata"]
            for k in ("cacheControl", "contentEncoding", "contentDisposition", "contentLanguage"):
                if k in resource:
                    meta[k] = resource[k]
            self.objects[(bucket, name)] = meta
            self.stats["finalized"][name] = self.stats["finalized"].get(name, 0) + 1
            return meta

    def reject(self, name, why):
        with self.lock:
            self.stats["uploads_rejected"][name] = why


def iso_now():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def check_preconditions(meta, pre):
    gen = int(meta["generation"]) if meta else 0
    if "ifGenerationMatch" in pre and int(pre["ifGenerationMatch"]) != gen:
        raise GcsError(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet")
    if "ifGenerationNotMatch" in pre and int(pre["ifGenerationNotMatch"]) == gen:
        raise GcsError(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet")
    if "ifMetagenerationMatch" in pre:
        if not meta or int(pre["ifMetagenerationMatch"]) != int(meta["metageneration"]):
            raise GcsError(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet")


PRECONDITIONS = ("ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch", "ifMetagenerationNotMatch")


def parse_multipart(content_type, body):
    m = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not m:
        raise GcsError(400, "multipart upload without a boundary")
    delim = b"--" + m.group(1).encode()
    pieces = body.split(delim)
    parts = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break
        piece = piece[2:] if piece.startswith(b"\r\n") else piece[1:] if piece.startswith(b"\n") else piece
        sep = piece.find(b"\r\n\r\n")
        sep_len = 4
        lf = piece.find(b"\n\n")
        if sep < 0 or (0 <= lf < sep):
            sep, sep_len = lf, 2
        if sep < 0:
            raise GcsError(400, "multipart part without headers")
        headers = {}
        for line in piece[:sep].decode("latin-1").splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        data = piece[sep + sep_len:]
        if data.endswith(b"\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n"):
            data = data[:-1]
        parts.append((headers, data))
    if len(parts) != 2:
        raise GcsError(400, f"multipart upload needs 2 parts, got {len(parts)}")
    return parts


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "eden-gcs-test-server/1"
    state: State = None  # set by main

    def log_message(self, fmt, *args):  # quiet unless asked
        if self.server.verbose:
            super().log_message(fmt, *args)

    # ---- plumbing -------------------------------------------------------------------------
    def read_body(self, allow_short=False):
        """The request body (Content-Length or chunked). A short body raises, or with allow_short
        returns (bytes, complete=False)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline()
                if not line:
                    return (bytes(out), False) if allow_short else self._short()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return (bytes(out), True) if allow_short else bytes(out)
                chunk = self.rfile.read(size)
                out += chunk
                if len(chunk) < size:
                    return (bytes(out), False) if allow_short else self._short()
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        data = bytearray()
        while len(data) < length:
            piece = self.rfile.read(min(length - len(data), 1 << 20))
            if not piece:
                break
            data += piece
        if len(data) < length:
            if allow_short:
                self.close_connection = True
                return bytes(data), False
            self._short()
        return (bytes(data), True) if allow_short else bytes(data)

    def _short(self):
        self.close_connection = True
        raise ConnectionError("request body cut short")

    def send(self, code, body=b"", content_type="application/json; charset=UTF-8", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body or code not in (204, 304):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error_json(self, e: GcsError):
        self.send(e.code, {"error": {"code": e.code, "message": e.message,
                                     "errors": [{"message": e.message, "domain": "global", "reason": e.reason}]}},
                  headers=e.headers)

    def base_url(self):
        return f"http://{self.headers.get('Host') or '127.0.0.1'}"

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        self.query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        self.route = url.path
        if self.route == "/b" or self.route.startswith("/b/"):  # clients given a bare endpoint (no /storage/v1)
            self.route = "/storage/v1" + self.route
        try:
            self.dispatch()
        except GcsError as e:
            try:
                if self.command in ("POST", "PUT") and not getattr(self, "body_read", False):
                    self.read_body(allow_short=True)
            except Exception:  # noqa: BLE001 - the error reply matters more
                self.close_connection = True
            self.send_error_json(e)
        except ConnectionError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any

    # ---- routing --------------------------------------------------------------------------
    def dispatch(self):
        s = self.state
        p, m = self.route, self.command
        if p == "/_test/stats":
            with s.lock:
                return self.send(200, json.loads(json.dumps(s.stats)))
        if p == "/_test/revoke-tokens" and m == "POST":  # every issued token stops working
            with s.lock:
                s.tokens.clear()
                s.stats["revoked"] = s.stats.get("revoked", 0) + 1
            return self.send(200, {})
        if p == "/_test/token-lifetime" and m == "POST":
            seconds = int(self.query.get("seconds", "0"))
            with s.lock:
                s.token_lifetime = seconds
            return self.send(200, {"token_lifetime": seconds})
        if p == "/token" and m == "POST":
            s.count("token")
            return self.token_endpoint()
        if p.startswith("/computeMetadata/v1/"):
            s.count("metadata")
            return self.metadata_server(p)
        self.check_auth()
        mm = re.fullmatch(r"/upload/storage/v1/b/([^/]+)/o", p)
        if mm and m == "POST":
            bucket = urllib.parse.unquote(mm.group(1))
            kind = self.query.get("uploadType", "media")
            s.count("upload_" + kind)
            if kind == "media":
                return self.upload_media(bucket)
            if kind == "multipart":
                return self.upload_multipart(bucket)
            if kind == "resumable":
                if "upload_id" in self.query:
                    return self.resumable_put(bucket)
                return self.resumable_start(bucket)
            raise GcsError(400, f"unknown uploadType {kind}")
        if mm and m == "PUT":
            s.count("upload_chunk")
            return self.resumable_put(urllib.parse.unquote(mm.group(1)))
        if mm and m == "DELETE":
            sess = s.sessions.pop(self.query.get("upload_id"), None)
            return self.send(499 if sess else 404, b"")
        mm = re.fullmatch(r"/(?:download/)?storage/v1/b/([^/]+)/o/(.+)", p)
        if mm:
            bucket, name = urllib.parse.unquote(mm.group(1)), urllib.parse.unquote(mm.group(2))
            if m in ("GET", "HEAD"):
                s.count("get_media" if self.query.get("alt") == "media" else "get_metadata")
                return self.get_object(bucket, name, p.startswith("/download/") or self.query.get("alt") == "media")
            if m == "DELETE":
                s.count("delete")
                with s.lock:
                    meta = s.get(bucket, name)
                    check_preconditions(meta, {k: v for k, v in self.query.items() if k in PRECONDITIONS})
                    del s.objects[(bucket, name)]
                    os.remove(s.data_path(bucket, name))
                return self.send(204)
            if m == "PATCH":
                s.count("patch")
                body = json.loads(self.read_body() or b"{}")
                self.body_read = True
                with s.lock:
                    meta = s.get(bucket, name)
                    check_preconditions(meta, {k: v for k, v in self.query.items() if k in PRECONDITIONS})
                    if "metadata" in body:
                        meta.setdefault("metadata", {}).update(body["metadata"] or {})
                    for k in ("contentType", "cacheControl", "contentDisposition"):
                        if k in body:
                            meta[k] = body[k]
                    meta["metageneration"] = str(int(meta["metageneration"]) + 1)
                    meta["updated"] = iso_now()
                return self.send(200, meta)
        mm = re.fullmatch(r"/storage/v1/b/([^/]+)/o", p)
        if mm and m == "GET":
            s.count("list")
            return self.list_objects(urllib.parse.unquote(mm.group(1)))
        mm = re.fullmatch(r"/storage/v1/b/([^/]+)", p)
        if mm and m == "GET":
            s.count("get_bucket")
            return self.send(200, s.bucket(urllib.parse.unquote(mm.group(1))))
        if p == "/storage/v1/b" and m == "POST":
            body = json.loads(self.read_body() or b"{}")
            self.body_read = True
            return self.send(200, s.create_bucket(body["name"]))
        if p == "/storage/v1/b" and m == "GET":
            return self.send(200, {"kind": "storage#buckets", "items": list(s.buckets.values())})
        raise GcsError(404, f"Not Found: {m} {p}", "notFound")

    # ---- auth -----------------------------------------------------------------------------
    def check_auth(self):
        s = self.state
        if not s.auth:
            return
        header = self.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else None
        with s.lock:
            expiry = s.tokens.get(token)
            ok = expiry is not None and expiry > time.time()
            if not ok:
                s.stats["unauthorized"] += 1
        if not ok:
            raise GcsError(401, "Invalid Credentials" if token else "Anonymous caller does not have storage access.",
                           "authError", {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})

    def issue_token(self, kind):
        s = self.state
        token = "ya29.test-" + uuid.uuid4().hex
        with s.lock:
            s.tokens[token] = time.time() + s.token_lifetime
            s.stats["tokens"][kind] = s.stats["tokens"].get(kind, 0) + 1
            s.stats["last_token_lifetime"] = s.token_lifetime
        return self.send(200, {"access_token": token, "expires_in": s.token_lifetime, "token_type": "Bearer"})

    def token_error(self, code, error, description):
        return self.send(code, {"error": error, "error_description": description})

    def token_endpoint(self):
        s = self.state
        form = dict(urllib.parse.parse_qsl(self.read_body().decode()))
        self.body_read = True
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            problem = self.verify_jwt(form.get("assertion", ""))
            if problem:
                return self.token_error(400, "invalid_grant", problem)
            return self.issue_token("jwt")
        if grant == "refresh_token":
            au = s.authorized_user or {}
            if (form.get("client_id") != au.get("client_id") or form.get("client_secret") != au.get("client_secret")):
                return self.token_error(401, "invalid_client", "The OAuth client was not found.")
            if form.get("refresh_token") != au.get("refresh_token"):
                return self.token_error(400, "invalid_grant", "Token has been expired or revoked.")
            return self.issue_token("refresh")
        return self.token_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")

    def verify_jwt(self, assertion):
        """Returns None if the assertion is a valid RS256 JWT from the configured service account."""
        s = self.state
        parts = assertion.split(".")
        if len(parts) != 3 or not s.sa_public_key:
            return "malformed assertion"
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except ValueError:
            return "assertion is not base64url JSON"
        if header.get("alg") != "RS256" or header.get("typ", "JWT") != "JWT":
            return f"unsupported alg {header.get('alg')}"
        with tempfile.TemporaryDirectory() as tmp:
            sig_path, data_path = os.path.join(tmp, "sig"), os.path.join(tmp, "data")
            with open(sig_path, "wb") as f:
                f.write(signature)
            with open(data_path, "wb") as f:
                f.write(f"{parts[0]}.{parts[1]}".encode())
            r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", s.sa_public_key, "-signature", sig_path,
                                data_path], capture_output=True)
        if r.returncode != 0:
            return "Invalid JWT Signature."
        now = time.time()
        if claims.get("iss") != s.sa_email:
            return f"unknown issuer {claims.get('iss')}"
        if claims.get("aud") != self.base_url() + "/token":
            return f"wrong audience {claims.get('aud')}"
        if "devstorage" not in claims.get("scope", ""):
            return "no storage scope"
        iat, exp = claims.get("iat", 0), claims.get("exp", 0)
        if not (iat - 300 <= now <= exp + 300) or exp - iat > 3600:
            return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
        return None

    def metadata_server(self, path):
        if self.headers.get("Metadata-Flavor") != "Google":
            return self.send(403, b"Missing Metadata-Flavor: Google header", "text/plain")
        if path == "/computeMetadata/v1/instance/service-accounts/default/token":
            return self.issue_token("metadata")
        if path == "/computeMetadata/v1/project/project-id":
            return self.send(200, b"test-project", "application/text", {"Metadata-Flavor": "Google"})
        return self.send(404, b"not found", "text/plain")

    # ---- uploads --------------------------------------------------------------------------
    def preconditions(self, source=None):
        q = source if source is not None else self.query
        return {k: v for k, v in q.items() if k in PRECONDITIONS}

    def upload_media(self, bucket):
        self.state.bucket(bucket)
        name = self.query.get("name")
        if not name:
            raise GcsError(400, "Required parameter: name", "required")
        data = self.read_body()
        self.body_read = True
        meta = self.state.finalize(bucket, name, data, {}, self.preconditions(), self.headers.get("Content-Type"))
        return self.send(200, meta)

    def upload_multipart(self, bucket):
        self.state.bucket(bucket)
        body = self.read_body()
        self.body_read = True
        (h1, meta_part), (h2, data) = parse_multipart(self.headers.get("Content-Type"), body)
        resource = json.loads(meta_part or b"{}")
        name = resource.get("name") or self.query.get("name")
        if not name:
            raise GcsError(400, "Required parameter: name", "required")
        ctype = resource.get("contentType") or h2.get("content-type")
        meta = self.state.finalize(bucket, name, data, resource, self.preconditions(), ctype)
        return self.send(200, meta)

    def resumable_start(self, bucket):
        s = self.state
        s.bucket(bucket)
        raw = self.read_body()
        self.body_read = True
        resource = json.loads(raw) if raw.strip() else {}
        name = resource.get("name") or self.query.get("name")
        if not name:
            raise GcsError(400, "Required parameter: name", "required")
        pre = self.preconditions()
        with s.lock:
            check_preconditions(s.objects.get((bucket, name)), pre)
        total = self.headers.get("X-Upload-Content-Length")
        upload_id = uuid.uuid4().hex
        with s.lock:
            s.sessions[upload_id] = {"bucket": bucket, "name": name, "resource": resource, "pre": pre,
                                     "ctype": resource.get("contentType") or self.headers.get("X-Upload-Content-Type"),
                                     "data": bytearray(), "total": int(total) if total else None, "done": None}
        loc = (f"{self.base_url()}/upload/storage/v1/b/{urllib.parse.quote(bucket, safe='')}/o?uploadType=resumable"
               f"&name={urllib.parse.quote(name, safe='')}&upload_id={upload_id}")
        return self.send(200, b"", headers={"Location": loc, "X-GUploader-UploadID": upload_id})

    def session_status(self, sess):
        if sess["done"] is not None:
            return self.send(200, sess["done"])
        n = len(sess["data"])
        return self.send(308, b"", headers={"Range": f"bytes=0-{n - 1}"} if n else {})

    def resumable_put(self, bucket):
        s = self.state
        sess = s.sessions.get(self.query.get("upload_id"))
        if sess is None or sess["bucket"] != bucket:
            raise GcsError(404, "No such upload session", "notFound")
        if sess.get("cancelled"):
            raise GcsError(499, "upload cancelled")
        cr = self.headers.get("Content-Range", "")
        if cr:
            m = re.fullmatch(r"bytes (\*|(\d+)-(\d+|\*))/(\*|\d+)", cr.strip())
            if not m:
                raise GcsError(400, f"Bad Content-Range: {cr}")
            query = m.group(1) == "*"
            start = None if query else int(m.group(2))
            end = None if query or m.group(3) == "*" else int(m.group(3))
            total = None if m.group(4) == "*" else int(m.group(4))
        else:
            query, start, end, total = False, 0, None, None
        if query:
            self.read_body()
            self.body_read = True
            if sess["data"] and sess["done"] is None:
                with s.lock:
                    s.stats["status_queries_with_progress"] += 1
            sess["after_status_query"] = True
            if total is not None and len(sess["data"]) == total and sess["done"] is None:
                return self.send(200, self.complete_session(sess))
            return self.session_status(sess)
        data, complete = self.read_body(allow_short=True)
        self.body_read = True
        if sess["done"] is not None:
            return self.send(200, sess["done"])
        with s.lock:
            committed = len(sess["data"])
            if start > committed:
                raise GcsError(400, f"Invalid request. Chunk starts at {start}, but {committed} bytes are persisted.")
            if start < committed:  # bytes the server already has: skipped, and counted
                s.stats["resent_bytes"] += min(committed - start, len(data))
                # Re-sending bytes the status query just reported as committed is the client's
                # fault; a plain duplicate (libcurl resends a request once when a reused
                # connection dies before any answer) is not.
                if sess.get("after_status_query"):
                    s.stats["ignored_committed_offset"] += 1
            sess["after_status_query"] = False
            data = data[committed - start:]
            final = complete and (total is not None and committed + len(data) == total or
                                  (total is None and end is None))
            if not complete:
                keep = (len(data) // CHUNK) * CHUNK  # a cut chunk keeps whole 256 KiB blocks only
                sess["data"] += data[:keep]
                return None
            if not final and len(data) % CHUNK:
                raise GcsError(400, "Invalid request. The number of bytes uploaded is required to be a multiple of "
                               "262144 bytes, except for the last chunk.")
            sess["data"] += data
        if final or (total is not None and len(sess["data"]) == total):
            return self.send(200, self.complete_session(sess))
        return self.session_status(sess)

    def complete_session(self, sess):
        try:
            meta = self.state.finalize(sess["bucket"], sess["name"], bytes(sess["data"]), sess["resource"],
                                       sess["pre"], sess["ctype"])
        except GcsError:
            raise
        sess["done"] = meta
        sess["data"] = bytearray()
        return meta

    # ---- reads ----------------------------------------------------------------------------
    def get_object(self, bucket, name, media):
        s = self.state
        with s.lock:
            meta = dict(s.get(bucket, name))
            if "generation" in self.query and self.query["generation"] != meta["generation"]:
                raise GcsError(404, f"No such object: {bucket}/{name}", "notFound")
            pre = self.preconditions()
            if "ifGenerationNotMatch" in pre and int(pre["ifGenerationNotMatch"]) == int(meta["generation"]):
                return self.send(304)
            check_preconditions(meta, {k: v for k, v in pre.items() if k != "ifGenerationNotMatch"})
            if media:
                with open(s.data_path(bucket, name), "rb") as f:
                    data = f.read()
        if not media:
            return self.send(200, meta)
        headers = {"x-goog-hash": f"crc32c={meta['crc32c']},md5={meta['md5Hash']}",
                   "x-goog-generation": meta["generation"], "x-goog-metageneration": meta["metageneration"],
                   "x-goog-stored-content-length": meta["size"], "ETag": meta["etag"], "Accept-Ranges": "bytes"}
        rng = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if rng:
            a = int(rng.group(1))
            b = int(rng.group(2)) if rng.group(2) else len(data) - 1
            b = min(b, len(data) - 1)
            headers["Content-Range"] = f"bytes {a}-{b}/{len(data)}"
            return self.send(206, data[a:b + 1], meta["contentType"], headers)
        return self.send(200, data, meta["contentType"], headers)

    def list_objects(self, bucket):
        s = self.state
        prefix = self.query.get("prefix", "")
        delimiter = self.query.get("delimiter", "")
        max_results = min(int(self.query.get("maxResults") or 1000), 1000)
        token = self.query.get("pageToken", "")
        with s.lock:
            s.bucket(bucket)
            names = sorted(n for (b, n) in s.objects if b == bucket and n.startswith(prefix))
            items, prefixes, next_token = [], [], None
            for n in names:
                if token and n <= token:
                    continue
                if delimiter:
                    cut = n.find(delimiter, len(prefix))
                    if cut >= 0:
                        p = n[:cut + len(delimiter)]
                        if p not in prefixes and (not token or p > token):
                            if len(items) + len(prefixes) >= max_results:
                                next_token = n
                                break
                            prefixes.append(p)
                        continue
                if len(items) + len(prefixes) >= max_results:
                    next_token = (items[-1]["name"] if items else prefixes[-1])
                    break
                items.append(dict(s.objects[(bucket, n)]))
        out = {"kind": "storage#objects"}
        if items:
            out["items"] = items
        if prefixes:
            out["prefixes"] = prefixes
        if next_token:
            out["nextPageToken"] = next_token
        return self.send(200, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    ap.add_argument("--root", required=True)
    ap.add_argument("--bucket", action="append", default=[])
    ap.add_argument("--auth", action="store_true", help="require Bearer tokens issued by /token")
    ap.add_argument("--sa-public-key", help="PEM public key of the service account (JWT grants)")
    ap.add_argument("--sa-email", help="client_email of the service account")
    ap.add_argument("--authorized-user", help="authorized_user JSON accepted by the refresh-token grant")
    ap.add_argument("--token-lifetime", type=int, default=3600)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    au = json.load(open(args.authorized_user)) if args.authorized_user else None
    Handler.state = State(args.root, args.bucket, args.auth, args.sa_public_key, args.sa_email, au,
                          args.token_lifetime)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.verbose = args.verbose
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
