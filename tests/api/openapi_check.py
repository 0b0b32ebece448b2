"""Every answer the API suite receives is checked against the server's own
OpenAPI document (GET /openapi.json): the operation for the method and path,
the status among that operation's responses, the documented headers
(required ones present, values matching their schemas), the media type, and
the JSON body against the response's schema (python3-jsonschema, draft
2020-12, the dialect of OpenAPI 3.1).  An answer the document does not
describe fails the test that got it.

Answers to requests outside the document are checked against what the
document says of them as a whole (its info.description): a path that is not
in it is a 404, a method a path does not serve is a 405 whose Allow lists
only methods the document has for that path, an unknown method is a 501, an
HTTP version other than 1.x a 505; all with a {"detail": string} body.

A test that sends deliberately malformed bytes (raw sockets) may switch the
check off with @pytest.mark.openapi_unchecked; fm.Client and fm.raw_request
both report to CHECK.
"""
import json
import re
import threading
import urllib.parse

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker, RefResolver

HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
REQUEST_LINE = re.compile(rb"^([A-Za-z]+) (\S+) HTTP/(\d\.\d)\r?\n")


class OpenAPIMismatch(AssertionError):
    pass


class Checker:
    def __init__(self):
        self.enabled = True
        self.doc = None
        self.validated = 0
        self.outside = 0  # answers to paths/methods outside the document, checked by its general rules
        self.unchecked = 0
        self._lock = threading.Lock()
        self._validators = {}
        self._fetch = None

    # ---- the document ----------------------------------------------------

    def set_fetcher(self, fetch):
        """fetch() -> the document (dict); called once, on the first answer."""
        self._fetch = fetch

    def load(self, doc):
        self.doc = doc
        self.resolver = RefResolver.from_schema(doc)
        self.templates = []
        for tpl, item in doc["paths"].items():
            segs = tpl.strip("/").split("/") if tpl != "/" else []
            self.templates.append((segs, tpl, item))

    def _ensure(self, fetch):
        if self.doc is None:
            with self._lock:
                if self.doc is None:
                    self.load((fetch or self._fetch)())

    def resolve(self, obj):
        while isinstance(obj, dict) and "$ref" in obj:
            _, obj = self.resolver.resolve(obj["$ref"])
        return obj

    def validator(self, schema):
        key = id(schema)
        v = self._validators.get(key)
        if v is None:
            v = Draft202012Validator(schema, resolver=self.resolver, format_checker=FormatChecker())
            self._validators[key] = (v, schema)  # keep schema alive so id() stays unique
            return v
        return v[0]

    def match(self, path):
        segs = [urllib.parse.unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
        best = None
        for tsegs, tpl, item in self.templates:
            if len(tsegs) != len(segs):
                continue
            literal = 0
            ok = True
            for t, s in zip(tsegs, segs):
                if t.startswith("{"):
                    ok = ok and s != ""
                elif t == s:
                    literal += 1
                else:
                    ok = False
            if ok and (best is None or literal > best[0]):
                best = (literal, tpl, item)
        return (best[1], best[2]) if best else (None, None)

    # ---- one answer --------------------------------------------------------

    def check(self, method, target, resp, fetch=None):
        """Checks resp (an fm.Resp) to METHOD target against the document;
        fetch() gets the document the first time."""
        if not self.enabled:
            with self._lock:
                self.unchecked += 1
            return
        self._ensure(fetch)
        path = urllib.parse.urlsplit(target).path or "/"
        where = "%s %s -> %s" % (method, target[:200], resp.status)
        tpl, item = self.match(path)
        m = method.lower() if method.isupper() else "(unknown)"  # methods are case-sensitive
        if tpl is None or m not in HTTP_METHODS or m not in item:
            self._outside(method, tpl, item, resp, where)
            with self._lock:
                self.outside += 1
            return
        op = item[m]
        responses = op["responses"]
        r = responses.get(str(resp.status))
        if r is None:
            raise OpenAPIMismatch("%s: status %s is not documented for %s %s (documented: %s); body %r"
                                  % (where, resp.status, method, tpl, sorted(responses), resp.body[:300]))
        r = self.resolve(r)
        self._headers(r, resp, where)
        self._content(m, r, resp, where)
        with self._lock:
            self.validated += 1

    def _outside(self, method, tpl, item, resp, where):
        if tpl is None:
            want = (404,)
        elif not method.isupper() or method.lower() not in HTTP_METHODS:
            want = (501,)
        else:
            want = (405,)
        if resp.status not in want and resp.status not in (400, 414, 431, 505):
            raise OpenAPIMismatch("%s: the document has no %s %s, so the answer should be %s"
                                  % (where, method, tpl or "(no such path)", want))
        if resp.status == 405:
            allow = {a.strip().lower() for a in (resp.header("Allow") or "").split(",") if a.strip()}
            extra = allow - set(item)
            if extra:
                raise OpenAPIMismatch("%s: Allow lists %s, which the document does not have for %s"
                                      % (where, sorted(extra), tpl))
        if method.upper() != "HEAD" and resp.body:
            self._json_against(resp, self.doc["components"]["schemas"]["Error"], where)

    def _headers(self, r, resp, where):
        for name, h in (r.get("headers") or {}).items():
            h = self.resolve(h)
            values = resp.header_all(name)
            if not values:
                if h.get("required"):
                    raise OpenAPIMismatch("%s: required header %s is missing" % (where, name))
                continue
            schema = h.get("schema")
            if schema:
                for v in values:
                    errs = list(self.validator(schema).iter_errors(v))
                    if errs:
                        raise OpenAPIMismatch("%s: header %s: %r does not match %s: %s"
                                              % (where, name, v, schema, errs[0].message))

    def _content(self, m, r, resp, where):
        content = r.get("content")
        if m == "head":
            if resp.body:
                raise OpenAPIMismatch("%s: a HEAD answer has a body" % where)
            return
        if not content:
            if resp.body:
                raise OpenAPIMismatch("%s: the document gives this answer no content, but it has a body %r"
                                      % (where, resp.body[:200]))
            return
        ct = (resp.header("Content-Type") or "").split(";")[0].strip().lower()
        media = None
        for k in content:
            if k.split(";")[0].strip().lower() == ct:
                media = content[k]
        if media is None:
            raise OpenAPIMismatch("%s: Content-Type %r is not among the documented %s" % (where, ct, sorted(content)))
        if ct == "application/json":
            self._json_against(resp, media.get("schema", {}), where)

    def _json_against(self, resp, schema, where):
        try:
            body = json.loads(resp.body.decode("utf-8"))
        except ValueError as e:
            raise OpenAPIMismatch("%s: the body is not JSON (%s): %r" % (where, e, resp.body[:200]))
        errs = sorted(self.validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
        if errs:
            e = errs[0]
            raise OpenAPIMismatch("%s: the body does not match the document at %s: %s\nbody: %s"
                                  % (where, "/".join(str(p) for p in e.absolute_path) or "(root)", e.message,
                                     resp.body[:1500]))

    def check_raw(self, data, resp, fetch=None):
        """An answer to raw bytes: checked when they start with a request line."""
        if resp is None:
            return
        mt = REQUEST_LINE.match(data)
        if mt and self.enabled and mt.group(3) not in (b"1.0", b"1.1"):
            if resp.status != 505:
                raise OpenAPIMismatch("HTTP/%s request answered %s, not 505" % (mt.group(3).decode(), resp.status))
            with self._lock:
                self.outside += 1
            return
        if not mt:
            if self.enabled:
                raise OpenAPIMismatch("raw request without a parsable request line (%r): mark the test "
                                      "@pytest.mark.openapi_unchecked if it is malformed on purpose" % data[:80])
            with self._lock:
                self.unchecked += 1
            return
        self.check(mt.group(1).decode(), mt.group(2).decode("latin-1"), resp, fetch)


CHECK = Checker()


def check_document_schemas(doc):
    """Every schema in the document is a valid draft 2020-12 schema."""
    seen = 0

    def walk(node):
        nonlocal seen
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "schema" and isinstance(v, dict):
                    Draft202012Validator.check_schema(v)
                    seen += 1
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for name, s in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(s)
        seen += 1
    walk(doc["paths"])
    walk({k: v for k, v in doc["components"].items() if k != "schemas"})
    return seen


__all__ = ["CHECK", "Checker", "OpenAPIMismatch", "check_document_schemas", "jsonschema"]
