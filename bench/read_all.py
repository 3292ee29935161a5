"""Reads every seeded tenant's flow list, each of its flows, its value elements, the tenant and
users/me, with its key, over one keep-alive connection; fails on any answer but 200. Prints
`REQUESTS BYTES`: the reads made and the bytes of their answers' bodies.
    python3 bench/read_all.py URL KEYS_FILE   (KEYS_FILE: KEY<TAB>TENANT lines; the first,
                                               Example's, is skipped)
"""
import http.client
import json
import sys
import urllib.parse

url, keys_file = sys.argv[1], sys.argv[2]
place = urllib.parse.urlsplit(url)
connection = http.client.HTTPConnection(place.hostname, place.port)
requests = size = 0


def get(path, key, tenant):
    global requests, size
    connection.request("GET", path, headers={"x-boomi-flow-api-key": key, "manywhotenant": tenant})
    answer = connection.getresponse()
    body = answer.read()
    if answer.status != 200:
        sys.exit(f"{path}: {answer.status} {body[:200]!r}")
    requests += 1
    size += len(body)
    return body


with open(keys_file) as lines:
    next(lines)
    for line in lines:
        key, tenant = line.split()
        flows = json.loads(get("/api/draw/1/flow", key, tenant))
        for flow in flows:
            get(f"/api/draw/1/flow/{flow['id']['id']}", key, tenant)
        for path in ("/api/draw/1/element/value", "/api/admin/1/tenant", "/api/admin/1/users/me"):
            get(path, key, tenant)
print(requests, size)
