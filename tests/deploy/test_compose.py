#!/usr/bin/python3
"""compose.yaml, as Docker Compose itself reads it (`docker-compose config`, Debian's
docker-compose): the services operators expect, the seed's .env names carried into every eden
container, the worker replica count, the scheduler's incremental loop, and a clear refusal when a
required setting is missing. Usage: test_compose.py REPO"""
import os
import subprocess
import sys
import tempfile

import yaml

REPO = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")


def config(env_text, extra_env=None):
    with tempfile.TemporaryDirectory() as tmp:
        env_file = os.path.join(tmp, ".env")
        with open(env_file, "w") as f:
            f.write(env_text)
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCE_DATABASE_", "GCS_", "EDEN_", "FLOWER_"))}
        return subprocess.run(["docker-compose", "-f", os.path.join(REPO, "compose.yaml"), "--env-file", env_file,
                               "config"], env={**clean, **(extra_env or {})}, text=True, capture_output=True)


def main():
    example = open(os.path.join(REPO, ".env.example")).read()
    r = config(example + "EDEN_WORKERS=5\n")
    assert r.returncode == 0, r.stderr
    c = yaml.safe_load(r.stdout)
    services = c["services"]
    assert set(services) == {"redis", "worker", "run", "scheduler", "dashboard"}, set(services)
    values = dict(line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#"))
    for name in ("worker", "run", "scheduler", "dashboard"):
        s = services[name]
        env = s["environment"]
        for seed in ("SOURCE_DATABASE_HOST", "SOURCE_DATABASE_PORT", "SOURCE_DATABASE_NAME", "SOURCE_DATABASE_USER",
                     "SOURCE_DATABASE_PASS", "GCS_BUCKET_NAME", "LOGGING_LEVEL"):
            assert str(env[seed]) == values[seed], (name, seed, env.get(seed))
        assert env["REDIS_URL"] == "redis://redis:6379/0" and env["GCS_CREDENTIALS_PATH"] == "/run/secrets/gcs-key.json"
        assert "redis" in s["depends_on"], name
        assert any(v.endswith(":/run/secrets/gcs-key.json:ro") for v in s["volumes"]), s["volumes"]
        assert s["build"]["dockerfile"] == "Containerfile"
    assert services["worker"]["deploy"]["replicas"] == 5
    assert services["worker"]["command"][0] == "worker" and "--metrics-port" in services["worker"]["command"]
    sched = services["scheduler"]["command"]
    assert sched[:2] == ["run", "--incremental"] and sched[sched.index("--every") + 1] == values["EDEN_EVERY"], sched
    assert services["run"]["restart"] == "no" and "--broker" in services["run"]["command"]
    dash = services["dashboard"]
    assert dash["environment"]["FLOWER_USER"] == values["FLOWER_USER"] and dash["command"][0] == "dashboard"
    assert dash["ports"][0]["host_ip"] == "127.0.0.1" if isinstance(dash["ports"][0], dict) else \
        dash["ports"][0].startswith("127.0.0.1:"), dash["ports"]
    # A missing required setting stops Compose with the variable's name.
    missing = "\n".join(line for line in example.splitlines() if not line.startswith("SOURCE_DATABASE_HOST"))
    r = config(missing)
    assert r.returncode != 0 and "SOURCE_DATABASE_HOST" in r.stderr, r.stderr
    print("compose.yaml: 5 services, seed names carried, replicas, scheduler, refusal: ok")


if __name__ == "__main__":
    main()
