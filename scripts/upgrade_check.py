#!/usr/bin/env python3
"""A database made by an earlier build opens and works with a later one, on each backend.

    scripts/upgrade_check.py OLD_BINARY NEW_BINARY

For a data directory (SQLite) and a fresh PostgreSQL database (127.0.0.1:5432, user postgres,
trust authentication, or PGHOST/PGPORT/PGUSER): OLD serves the data and is given a key, a value
element, a flow with a map element, a snapshot and an invitation; it is stopped with SIGTERM;
NEW serves the same data with the same secrets and must answer every one of them as OLD wrote
it, take new writes, and refuse the key once it is deleted. Prints one line per check and
'N passed, N failed'; exits 1 on any failure. Standard library only.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

PASSWORD = "upgrade-check-" + uuid.uuid4().hex
passed = failed = 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok: {what}")
    else:
        failed += 1
        print(f"FAILED: {what} {detail}")


def call(base, method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            text = answer.read().decode()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        return error.code, text


def serve(binary, data_dir, database):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFLOW_")}
    env["KEYFLOW_ADMIN_PASSWORD"] = PASSWORD
    env["KEYFLOW_LOG"] = "warn"
    if database:
        env["KEYFLOW_DATABASE_URL"] = database
    process = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 60
    for line in process.stdout:
        found = re.match(r"listening on (http://[0-9.:]+)", line)
        if found:
            return process, found.group(1)
        if time.monotonic() > deadline:
            break
    process.kill()
    sys.exit(f"{binary} did not start on {data_dir}")


def stop(process):
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def sign_in(base):
    status, token = call(base, "POST", "/api/draw/1/authentication",
                         {"username": "admin@example.com", "password": PASSWORD})
    assert status == 200, (status, token)
    return {"Authorization": token}


def write_with_old(base):
    """What OLD writes; returns what NEW must find."""
    auth = sign_in(base)
    _, me = call(base, "GET", "/api/admin/1/users/me", headers=auth)
    tenant = me["tenants"][0]["id"]
    _, key = call(base, "POST", "/api/admin/1/users/me/keys",
                  {"name": "upgrade", "tenantId": tenant}, auth)
    status, value = call(base, "POST", "/api/draw/1/element/value",
                         {"developerName": "TOTAL", "contentType": "ContentNumber",
                          "elementType": "VARIABLE"}, auth)
    assert status == 200, (status, value)
    status, flow = call(base, "POST", "/api/draw/1/flow",
                        {"developerName": "Upgrade flow", "developerSummary": "made by OLD"}, auth)
    assert status == 200, (status, flow)
    flow_id, token = flow["id"]["id"], flow["editingToken"]
    status, element = call(base, "POST", f"/api/draw/1/flow/{flow_id}/{token}/element/map",
                           {"elementType": "STEP", "developerName": "Step one", "x": 300, "y": 100},
                           auth)
    assert status == 200, (status, element)
    status, snapshot = call(base, "POST", f"/api/draw/1/flow/snap/{flow_id}", "before the upgrade", auth)
    assert status == 200, (status, snapshot)
    status, invited = call(base, "POST", "/api/admin/1/users",
                           {"email": "invited@example.com", "firstName": "In", "lastName": "Vited"}, auth)
    assert status == 200, (status, invited)
    return {"tenant": tenant, "key": key["apiKey"], "flow": flow_id, "value": value["id"],
            "map": element["id"], "snapshot": snapshot["id"]["versionId"]}


def read_with_new(base, made):
    with_key = {"x-boomi-flow-api-key": made["key"], "manywhotenant": made["tenant"]}
    status, flows = call(base, "GET", "/api/draw/1/flow", headers=with_key)
    names = sorted(f["developerName"] for f in flows) if status == 200 else []
    check("the key made by OLD lists the flows", status == 200 and "Upgrade flow" in names, (status, names))
    auth = sign_in(base)
    check("the administrator signs in with the password OLD stored", True)
    status, values = call(base, "GET", "/api/draw/1/element/value", headers=auth)
    check("the value element is there", status == 200 and [v["id"] for v in values] == [made["value"]], values)
    status, flow = call(base, "GET", f"/api/draw/1/flow/{made['flow']}", headers=with_key)
    check("the flow reads back", status == 200 and flow["developerSummary"] == "made by OLD", flow)
    status, elements = call(base, "GET", f"/api/draw/1/flow/{made['flow']}/{flow['editingToken']}/element/map",
                            headers=auth)
    ids = [e["id"] for e in elements] if status == 200 else []
    check("its map element is there", made["map"] in ids, (status, ids))
    status, snaps = call(base, "GET", f"/api/draw/1/flow/snap/{made['flow']}", headers=auth)
    check("the snapshot is there", status == 200 and [s["id"]["versionId"] for s in snaps] == [made["snapshot"]],
          snaps)
    status, image = call(base, "GET", f"/api/draw/1/flow/snap/{made['flow']}/{made['snapshot']}", headers=auth)
    check("the snapshot's image reads", status == 200 and any(
        e["id"] == made["map"] for e in image.get("mapElements") or []), status)
    status, users = call(base, "GET", "/api/admin/1/users", headers=auth)
    emails = [u.get("email") for u in users["items"]] if status == 200 else []
    check("the invitation is there", "invited@example.com" in emails, (status, emails))
    status, keys = call(base, "GET", "/api/admin/1/users/me/keys", headers=auth)
    check("the key is listed", status == 200 and [k["name"] for k in keys] == ["upgrade"], keys)
    status, _ = call(base, "POST", "/api/draw/1/flow", {"developerName": "Made by NEW"}, auth)
    check("NEW writes a flow", status == 200, status)
    status, _ = call(base, "DELETE", "/api/admin/1/users/me/keys/upgrade", headers=auth)
    check("NEW deletes the key", status == 200, status)
    status, _ = call(base, "GET", "/api/draw/1/flow", headers=with_key)
    check("the deleted key is refused", status == 401, status)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    old, new = sys.argv[1], sys.argv[2]
    pg = f"postgres://{os.environ.get('PGUSER', 'postgres')}@{os.environ.get('PGHOST', '127.0.0.1')}:" \
         f"{os.environ.get('PGPORT', '5432')}"
    name = "kf_upgrade_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", "-q", "-d", pg + "/postgres", "-c", f'CREATE DATABASE "{name}"'], check=True)
    try:
        for label, database in (("SQLite", None), ("PostgreSQL", f"{pg}/{name}")):
            with tempfile.TemporaryDirectory() as data_dir:
                os.chmod(data_dir, 0o700)
                print(f"== {label}")
                process, base = serve(old, data_dir, database)
                made = write_with_old(base)
                stop(process)
                process, base = serve(new, data_dir, database)
                try:
                    read_with_new(base, made)
                finally:
                    stop(process)
    finally:
        subprocess.run(["psql", "-q", "-d", pg + "/postgres", "-c", f'DROP DATABASE "{name}" WITH (FORCE)'])
    print(f"upgrade: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
