"""An EC2 throttling layer in front of moto (which throttles nothing).

Forwards every request to moto, after taking a token of the request's action's bucket:
one token bucket per EC2 action (AWS's published capacity times --capacity-scale, AWS's
refill), starting full, answering EC2's own 503 RequestLimitExceeded when empty, as EC2
does per account and Region. Optionally fails --fault-rate of the calls it lets through
with a 500 InternalError, half of them after moto applied the call.

GET /__proxy/stats answers {"Action": [calls, throttled, failed], ...} as JSON.
GET /__proxy/requests answers every request's parameters as sent, in order, as JSON
(a list of {"Param": "value"}): what the SDK really sent, also where moto ignores it;
beside them "__at" (when it arrived, Unix seconds) and "__verdict" (what the layer did
with it: admit, throttle, fail-before or fail-after).

Only the standard library: it runs in the venv the README's test command creates.
"""

import argparse
import http.client
import http.server
import json
import random
import threading
import time
import urllib.parse

# AWS's published buckets (EC2 developer guide, "Request throttling"): capacity, refill/s.
DEFAULT_BUCKETS = {
    "AttachNetworkInterface": (50, 5.0),
    "DetachNetworkInterface": (50, 5.0),
    "CreateNetworkInterface": (100, 5.0),
    "DeleteNetworkInterface": (100, 5.0),
    "ModifyNetworkInterfaceAttribute": (100, 5.0),
    "AssignPrivateIpAddresses": (100, 5.0),
    "UnassignPrivateIpAddresses": (50, 5.0),
    "AssignIpv6Addresses": (100, 5.0),
    "UnassignIpv6Addresses": (50, 5.0),
    "CreateTags": (100, 10.0),
}
DESCRIBE = (100, 20.0)
MUTATING_OTHER = (50, 5.0)

THROTTLE_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
    b"<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
    b"</Error></Errors><RequestID>throttled</RequestID></Response>"
)
INTERNAL_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
    b"<Code>InternalError</Code><Message>An internal error has occurred</Message>"
    b"</Error></Errors><RequestID>failed</RequestID></Response>"
)


class Bucket:
    def __init__(self, capacity, refill):
        self.capacity = float(capacity)
        self.refill = refill
        self.tokens = float(capacity)
        self.at = time.monotonic()

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.refill)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class State:
    def __init__(self, scale, fault_rate, seed):
        self.lock = threading.Lock()
        self.scale = scale
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)
        self.buckets = {}
        self.stats = {}
        self.requests = []

    def bucket(self, action):
        if action not in self.buckets:
            if action in DEFAULT_BUCKETS:
                capacity, refill = DEFAULT_BUCKETS[action]
            elif action.startswith("Describe"):
                capacity, refill = DESCRIBE
            else:
                capacity, refill = MUTATING_OTHER
            self.buckets[action] = Bucket(max(1, round(capacity * self.scale)), refill)
        return self.buckets[action]

    def admit(self, action):
        """'throttle', 'fail-before', 'fail-after' or 'ok'."""
        with self.lock:
            stats = self.stats.setdefault(action, [0, 0, 0])
            stats[0] += 1
            if not self.bucket(action).take():
                stats[1] += 1
                return "throttle"
            x = self.rng.random()
            if x < self.fault_rate:
                stats[2] += 1
                return "fail-before" if x < self.fault_rate / 2 else "fail-after"
            return "ok"


def handler(state, upstream):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, body, content_type="text/xml"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def forward(self, body):
            conn = http.client.HTTPConnection(upstream, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            headers["Host"] = upstream
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            return resp.status, data, resp.getheader("Content-Type", "text/xml")

        def do_GET(self):
            if self.path.startswith("/__proxy/stats"):
                with state.lock:
                    body = json.dumps(state.stats).encode()
                return self.answer(200, body, "application/json")
            if self.path.startswith("/__proxy/requests"):
                with state.lock:
                    body = json.dumps(state.requests).encode()
                return self.answer(200, body, "application/json")
            status, data, ctype = self.forward(None)
            self.answer(status, data, ctype)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            action = form.get("Action", ["Unknown"])[0]
            record = {k: v[0] for k, v in form.items()}
            record["__at"] = f"{time.time():.3f}"
            verdict = state.admit(action)
            record["__verdict"] = verdict
            with state.lock:
                state.requests.append(record)
            if verdict == "throttle":
                return self.answer(503, THROTTLE_BODY)
            if verdict == "fail-before":
                return self.answer(500, INTERNAL_BODY)
            status, data, ctype = self.forward(body)
            if verdict == "fail-after":
                return self.answer(500, INTERNAL_BODY)
            self.answer(status, data, ctype)

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True, help="moto's host:port")
    p.add_argument("--capacity-scale", type=float, default=1.0)
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    state = State(a.capacity_scale, a.fault_rate, a.seed)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), handler(state, a.upstream))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
