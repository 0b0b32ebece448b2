"""CONTRACT §3, §4, §8 — `q`: trimmed, then 2..128 code points, else 422;
a case-insensitive (ASCII letters only) substring match; '%', '_' and '\\'
are literal.  On documents (original_filename), workspaces (name) and
users (email, display_name)."""
import urllib.parse

import pytest

from fm import assert_422, unique

FILENAMES = ["Quarterly Report.pdf", "report-final.PDF", "100% done.txt", "a_b.txt", "axb.txt", "back\\slash.txt",
             "backXslash.txt", "R\u00e9sum\u00e9.doc", "R\u00c9SUM\u00c9.doc", "na\u00efve_plan.md", "50%_off",
             "5000 off", "\u00e9t\u00e9.txt", "\U0001F600smile.png", "\u00df-strasse", "SS-strasse"]


@pytest.fixture(scope="module")
def docs(api):
    ws = api.workspace()
    for fn in FILENAMES:
        ws.doc(original_filename=fn)
    return ws


def found(ws, q):
    r = ws.c.get(ws.path("documents"), params={"q": q, "page_size": 100})
    assert r.status == 200, (q, r)
    return sorted(it["original_filename"] for it in r.json["items"])


@pytest.mark.parametrize("q,expect", [
    ("report", ["Quarterly Report.pdf", "report-final.PDF"]),
    ("REPORT", ["Quarterly Report.pdf", "report-final.PDF"]),
    ("rEpOrT-", ["report-final.PDF"]),
    (".pdf", ["Quarterly Report.pdf", "report-final.PDF"]),
    ("  report  ", ["Quarterly Report.pdf", "report-final.PDF"]),
    ("0%", ["100% done.txt", "50%_off"]),
    ("% d", ["100% done.txt"]),
    ("a_b", ["a_b.txt"]),
    ("_b", ["a_b.txt"]),
    ("%_", ["50%_off"]),
    ("5%", []),
    ("50%", ["50%_off"]),
    ("k\\s", ["back\\slash.txt"]),
    ("\\\\", []),
    ("R\u00e9sum\u00e9", ["R\u00e9sum\u00e9.doc"]),
    ("r\u00e9sum\u00e9", ["R\u00e9sum\u00e9.doc"]),
    ("R\u00c9SUM\u00c9", ["R\u00c9SUM\u00c9.doc"]),
    ("r\u00c9sum\u00c9", ["R\u00c9SUM\u00c9.doc"]),
    ("sum", ["R\u00e9sum\u00e9.doc", "R\u00c9SUM\u00c9.doc"]),
    ("\u00e9t\u00e9", ["\u00e9t\u00e9.txt"]),
    ("\u00c9T\u00c9", []),
    ("\u00efve", ["na\u00efve_plan.md"]),
    ("\u00cfVE", []),
    ("\U0001F600s", ["\U0001F600smile.png"]),
    ("\u00df-", ["\u00df-strasse"]),
    ("ss-", ["SS-strasse"]),
    ("nothing-matches", []),
])
def test_q_matching(docs, q, expect):
    assert found(docs, q) == sorted(expect)


@pytest.mark.parametrize("q", ["a", " a ", "  ", "\u00e9", " \u00e9\t", "\U0001F600", "%", "_", "\\", "a" * 129,
                               "\u00e9" * 129, "\U0001F600" * 129, "   " + "b" * 129 + "   "])
def test_q_length_bounds(docs, q):
    r = docs.c.request("GET", docs.path("documents") + "?q=" + urllib.parse.quote(q))
    assert_422(r, "query", "q")


@pytest.mark.parametrize("q", ["ab", "\u00e9\u00e9", "\U0001F600\U0001F600", "a" * 128, "\u00e9" * 128,
                               "\U0001F600" * 128, "   " + "c" * 128 + "   ", "\t ab \t"])
def test_q_length_ok(docs, q):
    r = docs.c.request("GET", docs.path("documents") + "?q=" + urllib.parse.quote(q))
    assert r.status == 200, (q, r)


def test_q_with_other_filters_and_total(docs):
    r = docs.c.get(docs.path("documents"), params={"q": "report", "include_total": "true", "page_size": 1,
                                                   "sort": "original_filename"})
    assert r.json["total"] == 2 and r.json["has_next"] is True
    assert r.json["items"][0]["original_filename"] == "Quarterly Report.pdf"


def test_q_on_workspaces(api):
    u = api.user()
    m = unique("Q")
    names = ["Alpha %s" % m, "beta %s 100%%" % m, "gam_ma %s" % m, "gamXma %s" % m]
    for n in names:
        assert u.c.post("/workspaces", {"name": n}).status == 201
    def q(s):
        r = u.c.get("/workspaces", params={"q": s})
        assert r.status == 200, r
        return sorted(w["name"] for w in r.json["items"])
    assert q(m.lower()) == sorted(names)
    assert q("ALPHA") == ["Alpha %s" % m]
    assert q("0%") == ["beta %s 100%%" % m]
    assert q("m_m") == ["gam_ma %s" % m]
    assert q("m%m") == []
    assert_422(u.c.get("/workspaces", params={"q": "x"}), "query", "q")


def test_q_on_users_email_and_display_name(api):
    m = unique("qu")
    a = api.user(email="Ann.%s@Example.com" % m, display_name="Zed")
    b = api.user(email="bob.%s@example.com" % m, display_name="Ann_Marie")
    c = api.user(email="carl.%s@example.com" % m, display_name=None)

    def q(s):
        r = api.admin.get("/users", params={"q": s, "page_size": 100})
        assert r.status == 200, r
        return {it["user_id"] for it in r.json["items"]} & {a.id, b.id, c.id}
    assert q(m) == {a.id, b.id, c.id}
    assert q("ann") == {a.id, b.id}
    assert q("ANN." + m) == {a.id}
    assert q("ann_") == {b.id}
    assert q("zed") == {a.id}
    assert q("carl.%s@EXAMPLE" % m) == {c.id}
    assert q("n%") == set()
