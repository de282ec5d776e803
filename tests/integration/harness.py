"""Shared set-up for the integration suites: real PostgreSQL + Orthanc started by
scripts/services.sh, the demo PACS loaded by scripts/load_demo_pacs.py, and a runner that prints
one line per test and 'N passed, N failed'."""
import json
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import traceback


def sh(cmd, env=None, check=True, **kw):
    return subprocess.run(cmd, env={**os.environ, **(env or {})}, check=check, text=True, capture_output=True, **kw)


def tests_of(module_globals):
    """The module's test_* functions, in order; EDEN_TEST_ONLY=part keeps those whose name has it."""
    only = os.environ.get("EDEN_TEST_ONLY", "")
    return [v for k, v in module_globals.items() if k.startswith("test_") and only in k]


def setter_of(module_globals):
    """on_ready for run_suite: stores the services' environment and the loaded PACS as the
    module's ENV and LOADED."""
    def ready(env, loaded):
        module_globals["ENV"], module_globals["LOADED"] = env, loaded
    return ready


def usable_port(preferred):
    """`preferred` if nothing listens there, else a free port (another suite or a stray server
    must not make a test fail for a reason that is not its own)."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]


def wait_listening(port, proc=None, timeout=30):
    """Returns once something accepts connections on 127.0.0.1:port (a fixture server started in
    the background is ready), instead of sleeping a guessed time."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server meant for port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def run_suite(repo, services_dir, pg_port, orthanc_port, tests, on_ready):
    """Starts the services, loads the demo PACS, calls on_ready(env, loaded), runs each test in a
    fresh temporary folder, stops the services. Returns the process exit code."""
    pg_port, orthanc_port = usable_port(pg_port), usable_port(orthanc_port)
    svc_env = {"EDEN_SERVICES_DIR": services_dir, "EDEN_PG_PORT": str(pg_port), "EDEN_ORTHANC_PORT": str(orthanc_port)}
    services = os.path.join(repo, "scripts/services.sh")
    shutil.rmtree(services_dir, ignore_errors=True)
    passed = failed = 0
    try:
        started = sh([services, "start"], env=svc_env, check=False)
        print(started.stdout.strip())
        if started.returncode != 0:
            print(started.stderr)
            raise RuntimeError("the services did not start")
        env = dict(shlex.split(line)[1].split("=", 1) for line in sh([services, "env"], env=svc_env).stdout.splitlines())
        # The demo's truncated DICOM is a file:// URL in this folder: file:// is refused unless allowed.
        env["EDEN_ALLOW_URLS"] = f"file://{os.path.join(services_dir, 'bad')}/"
        # These suites check byte-for-byte copies, journals and protocols: de-identification
        # off, unless a test turns it on (test_pipeline.py's de-identification tests do).
        env["EDEN_DEID"] = "off"
        loaded = sh(["/usr/bin/python3", os.path.join(repo, "scripts/load_demo_pacs.py"), "--orthanc",
                     env["EDEN_ORTHANC_URL"], "--psql",
                     f"psql -h {env['EDEN_PG_SOCKET']} -p {env['SOURCE_DATABASE_PORT']} -U eden -d pacs",
                     "--bad-rows", os.path.join(services_dir, "bad")])
        loaded = json.loads(loaded.stdout.strip().splitlines()[-1])
        print(f"loaded {loaded['studies']} studies, {loaded['instances']} instances")
        on_ready(env, loaded)
        for t in tests:
            with tempfile.TemporaryDirectory() as tmp:
                start = time.time()
                try:
                    t(tmp)
                    passed += 1
                    print(f"ok   {t.__name__} ({time.time() - start:.1f}s)", flush=True)
                except Exception:
                    failed += 1
                    print(f"FAIL {t.__name__}\n{traceback.format_exc()}", flush=True)
    finally:
        print(sh([services, "stop"], env=svc_env, check=False).stdout.strip())
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
