#!/usr/bin/env python3
"""The two sides of bench/slow_clients.sh (python3's standard library only).

  slow_clients.py slow HOST PORT COUNT SECONDS OUT_JSON
      COUNT slow connections from 127.0.0.1: half sign-ins that announce a 100-byte body and
      send one byte of it every SECONDS, half heads that never end (one more byte of a header
      every SECONDS). Each runs until the server closes it; writes when each was opened, how
      long it stayed open and what it was answered. Prints `ready` once all are open.

  slow_clients.py stall HOST PORT ADDRESSES PER_ADDRESS BYTES CREDENTIAL
      ADDRESSES × PER_ADDRESS connections (from 127.0.0.1, 127.0.0.2, …) that each announce a
      body of BYTES, send all of it but the last byte, and stall until the server closes them;
      with CREDENTIAL `yes` each carries a made-up `Authorization`, with `no` none. Prints
      `sent` once every body is sent, then one line of the answers' statuses and how long the
      connections stayed open.

  slow_clients.py probe HOST PORT STOP_FILE OUT_JSON
      A well-behaved client from 127.0.0.2: signs in, makes a key, then until STOP_FILE exists
      asks `GET /health` and the flow list with the key, each on a new connection, and signs in
      again every 50th round; writes each answer's status and latency.
"""
import asyncio
import http.client
import json
import os
import socket
import sys
import time

PASSWORD = os.environ.get("KEYFLOW_ADMIN_PASSWORD", "slow clients bench password")


async def slow_one(host, port, kind, every, results):
    if kind == "body":
        head = (f"POST /api/draw/1/authentication HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        trickle = b" "
    else:
        head = f"GET /health HTTP/1.1\r\nHost: {host}\r\nX-Slow: "
        trickle = b"a"
    opened = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection(host, port, local_addr=("127.0.0.1", 0))
    except OSError as error:
        results.append({"kind": kind, "error": str(error)})
        return
    status = None
    try:
        writer.write(head.encode())
        await writer.drain()
        reading = asyncio.ensure_future(reader.read())  # until the server closes
        while not (await asyncio.wait({reading}, timeout=every))[0]:
            writer.write(trickle)
            await writer.drain()
        answer = reading.result()
        if answer.startswith(b"HTTP/1.1 "):
            status = answer[9:12].decode()
    except OSError:
        pass  # a reset: the server closed it too
    results.append({"kind": kind, "open_seconds": time.monotonic() - opened, "status": status})
    writer.close()


async def slow(host, port, count, every, out):
    results = []
    tasks = []
    for i in range(count):
        kind = "body" if i % 2 == 0 else "head"
        tasks.append(asyncio.ensure_future(slow_one(host, port, kind, every, results)))
        # Open them in batches, as a client would, rather than all in one burst that
        # overflows the listen backlog.
        if i % 100 == 99:
            await asyncio.sleep(0.05)
    print("ready", flush=True)
    await asyncio.gather(*tasks)
    with open(out, "w") as f:
        json.dump(results, f)


async def stall_one(host, port, address, head, body, sent):
    try:
        reader, writer = await asyncio.open_connection(host, port, local_addr=(address, 0))
    except OSError as error:
        sent.append(None)
        return f"cannot connect: {error}"
    opened = time.monotonic()
    try:
        writer.write(head)
        writer.write(body)
        await writer.drain()
    except OSError:
        pass  # closed at once (413, a refused connection): the answer says which
    sent.append(opened)
    try:
        answer = await reader.read()  # until the server closes
    except OSError:
        answer = b""
    writer.close()
    status = answer[9:12].decode() if answer.startswith(b"HTTP/1.1 ") else "closed"
    return status, time.monotonic() - opened


async def stall(host, port, addresses, per_address, size, credential):
    head = (f"POST /api/draw/1/flow HTTP/1.1\r\nHost: {host}\r\n"
            "Content-Type: application/json\r\n"
            + ("Authorization: Bearer made-up\r\n" if credential else "")
            + f"Content-Length: {size}\r\n\r\n").encode()
    body = b" " * (size - 1)
    sent = []
    tasks = []
    for a in range(addresses):
        for _ in range(per_address):
            tasks.append(asyncio.ensure_future(
                stall_one(host, port, f"127.0.0.{a + 1}", head, body, sent)))
        await asyncio.sleep(0.05)
    while len(sent) < len(tasks):
        await asyncio.sleep(0.1)
    print("sent", flush=True)
    results = await asyncio.gather(*tasks)
    statuses = {}
    for result in results:
        status = result[0] if isinstance(result, tuple) else result
        statuses[status] = statuses.get(status, 0) + 1
    longest = max((r[1] for r in results if isinstance(r, tuple)), default=0)
    print(json.dumps({"statuses": statuses, "longest_open_seconds": round(longest, 1)}), flush=True)


class FromSecondAddress(http.client.HTTPConnection):
    """A connection from 127.0.0.2 whose port is chosen at connect, not at bind: bind() would
    search for a port no socket on the address holds, TIME_WAIT ones included, which grows
    slower with every connection the probe has made."""

    def connect(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        self.sock.settimeout(self.timeout)
        self.sock.bind(("127.0.0.2", 0))
        self.sock.connect((self.host, self.port))


IP_BIND_ADDRESS_NO_PORT = 24  # Linux


def request(host, port, method, path, headers=None, body=None):
    started = time.monotonic()
    connection = FromSecondAddress(host, port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        payload = response.read()
        status = response.status
    except OSError as error:
        payload, status = str(error).encode(), None
    finally:
        connection.close()
    return status, time.monotonic() - started, payload


def sign_in(host, port):
    body = json.dumps({"username": "admin@example.com", "password": PASSWORD})
    return request(host, port, "POST", "/api/draw/1/authentication",
                   {"Content-Type": "application/json"}, body)


def probe(host, port, stop_file, out):
    status, _, token = sign_in(host, port)
    assert status == 200, (status, token)
    token = json.loads(token)
    auth = {"Authorization": f"Bearer {token}"}
    _, _, me = request(host, port, "GET", "/api/admin/1/users/me", auth)
    tenant = json.loads(me)["tenants"][0]["id"]
    body = json.dumps({"name": f"probe-{os.getpid()}", "tenantId": tenant})
    _, _, key = request(host, port, "POST", "/api/admin/1/users/me/keys",
                        {**auth, "Content-Type": "application/json"}, body)
    key = json.loads(key)["apiKey"]
    flows = {"x-boomi-flow-api-key": key, "manywhotenant": tenant}
    samples = {"health": [], "flows": [], "sign_in": []}
    rounds = 0
    while not os.path.exists(stop_file):
        for name, path, headers in (("health", "/health", {}),
                                    ("flows", "/api/draw/1/flow", flows)):
            status, seconds, _ = request(host, port, "GET", path, headers)
            samples[name].append((status, seconds))
        if rounds % 50 == 0:
            status, seconds, _ = sign_in(host, port)
            samples["sign_in"].append((status, seconds))
        rounds += 1
    with open(out, "w") as f:
        json.dump(samples, f)


if __name__ == "__main__":
    role, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if role == "stall":
        asyncio.run(stall(host, port, int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
                          sys.argv[7] == "yes"))
    elif role == "slow":
        asyncio.run(slow(host, port, int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]))
    else:
        probe(host, port, sys.argv[4], sys.argv[5])
