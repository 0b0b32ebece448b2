#!/usr/bin/python3
"""Database round trips per request kind, read from a server's /metrics.

    scripts/round-trips.py [--bin build/firemode] DB_URL

Starts a server on DB_URL (sqlite:PATH, or a postgresql:// URL of an empty
or FireMode database), makes a user, a workspace and a document, then sends
each request kind once, as the admin and as a member, and prints the
difference of firemode_db_round_trips_total for its route (a request's
round trips are counted on its route, its token lookup included).  Prints a
Markdown table.
"""
import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, binary, db, token):
        self.port = free_port()
        env = dict(os.environ, FIREMODE_ADMIN_TOKEN=token)
        self.proc = subprocess.Popen([binary, "serve", "--db", db, "--listen", "127.0.0.1:%d" % self.port,
                                      "--threads", "1"], env=env, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                if self.req("GET", "/healthz", None)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        sys.exit("the server did not start")

    def req(self, method, path, token, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        etag = r.getheader("ETag")
        c.close()
        try:
            js = json.loads(raw) if raw else None
        except ValueError:
            js = None
        return r.status, js, etag

    def trips(self, admin):
        _, _, _ = None, None, None
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", "/metrics", headers={"Authorization": "Bearer " + admin})
        text = c.getresponse().read().decode()
        c.close()
        out = {}
        for m in re.finditer(r'^firemode_db_round_trips_total\{route="([^"]*)"\} (\d+)$', text, re.M):
            out[m.group(1)] = int(m.group(2))
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "firemode"))
    ap.add_argument("db")
    a = ap.parse_args()
    admin = "round-trips-admin-token"
    s = Server(a.bin, a.db, admin)
    rows = []
    try:
        st, u, _ = s.req("POST", "/users", admin, {"email": "rt-%d@example.com" % os.getpid(), "display_name": "RT"})
        assert st == 201, (st, u)
        uid = u["user_id"]
        st, t, _ = s.req("POST", "/users/%s/tokens" % uid, admin)
        assert st == 201, (st, t)
        member = t["token"]
        st, w, _ = s.req("POST", "/workspaces", admin, {"name": "round trips"})
        ws = w["workspace_id"]
        st, _, _ = s.req("POST", "/workspaces/%s/members" % ws, admin, {"user_id": uid})
        assert st == 201, st
        s.req("GET", "/me", member)  # its first use records last_used_at (once a minute): not counted below
        docs = "/workspaces/%s/documents" % ws
        route_docs, route_doc = "/workspaces/:workspace_id/documents", "/workspaces/:workspace_id/documents/:id"

        def measure(label, who, method, path, route, body=None, headers=None, want=None):
            before = s.trips(admin)
            st, js, etag = s.req(method, path, admin if who == "admin" else member, body, headers)
            after = s.trips(admin)
            if want and st != want:
                sys.exit("%s %s as %s: %d %s" % (method, path, who, st, js))
            rows.append((label, who, st, after.get(route, 0) - before.get(route, 0)))
            return js, etag

        for who in ("admin", "member"):
            body = {"original_filename": "a.pdf", "byte_size": 1, "tags": ["x", "y"]}
            d, etag = measure("POST documents (2 tags)", who, "POST", docs, route_docs, body, want=201)
            did = d["document_id"]
            measure("POST documents (no tags)", who, "POST", docs, route_docs,
                    {"original_filename": "b.pdf", "byte_size": 1}, want=201)
            measure("GET documents (list)", who, "GET", docs, route_docs, want=200)
            _, etag = measure("GET document", who, "GET", "%s/%s" % (docs, did), route_doc, want=200)
            _, etag = measure("PATCH document (status)", who, "PATCH", "%s/%s" % (docs, did), route_doc,
                              {"status": "processed"}, want=200)
            _, etag = measure("PATCH document (tags), If-Match", who, "PATCH", "%s/%s" % (docs, did), route_doc,
                              {"tags": ["z"]}, {"If-Match": etag}, want=200)
            measure("DELETE document", who, "DELETE", "%s/%s" % (docs, did), route_doc, want=204)
        # FireMode v1 sessions (each caller's own): the one collection with PUT
        b0 = "0190f5a4-0000-7000-8000-000000000001"
        ses, _ = measure("POST session", "member", "POST", "/v1/tests/sessions", "/v1/tests/sessions",
                         {"building_id": b0, "notes": "n"}, want=201)
        sp, sr = "/v1/tests/sessions/" + ses["id"], "/v1/tests/sessions/:id"
        measure("PUT session", "member", "PUT", sp, sr, {"building_id": b0, "status": "completed"}, want=200)
        measure("DELETE session", "member", "DELETE", sp, sr, want=204)
        # users (admin only but for oneself), members, tokens
        u2, _ = measure("POST users", "admin", "POST", "/users", "/users",
                        {"email": "rt2-%d@example.com" % os.getpid()}, want=201)
        measure("GET users (list)", "admin", "GET", "/users", "/users", want=200)
        measure("GET user", "admin", "GET", "/users/" + uid, "/users/:id", want=200)
        measure("PATCH user", "admin", "PATCH", "/users/" + uid, "/users/:id", {"display_name": "R"}, want=200)
        measure("PATCH user (self)", "member", "PATCH", "/users/" + uid, "/users/:id", {"display_name": "S"}, want=200)
        measure("POST members (add)", "admin", "POST", "/workspaces/%s/members" % ws, "/workspaces/:workspace_id/members",
                {"user_id": u2["user_id"]}, want=201)
        measure("POST members (already one)", "member", "POST", "/workspaces/%s/members" % ws,
                "/workspaces/:workspace_id/members", {"user_id": u2["user_id"]}, want=200)
        measure("DELETE member", "admin", "DELETE", "/workspaces/%s/members/%s" % (ws, u2["user_id"]),
                "/workspaces/:workspace_id/members/:sub_id", want=204)
        measure("POST tokens (mint)", "admin", "POST", "/users/%s/tokens" % uid, "/users/:id/tokens", want=201)
        measure("POST tokens (mint, own)", "member", "POST", "/users/%s/tokens" % uid, "/users/:id/tokens", want=201)
    finally:
        s.stop()
    print("| request | caller | status | round trips |")
    print("|---|---|---|---|")
    for label, who, st, n in rows:
        print("| %s | %s | %d | %d |" % (label, who, st, n))


if __name__ == "__main__":
    main()
