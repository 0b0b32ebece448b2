"""CONTRACT §4, §8 — workspaces: name 1..200 code points, required,
server-set fields, no DELETE."""
import pytest

from fm import assert_422, assert_error


def test_name_lengths(user):
    for ok in ("x", "\u00e9" * 200, "\U0001F3E2" * 200, "a" * 200):
        r = user.c.post("/workspaces", {"name": ok})
        assert r.status == 201 and r.json["name"] == ok, r
    for bad in ("", "a" * 201, "\u00e9" * 201, None, 1, ["a"]):
        assert_422(user.c.post("/workspaces", {"name": bad}), "body", "name")


def test_name_required(user):
    assert_422(user.c.post("/workspaces", {}), "body", "name")


def test_patch_name(ws):
    r = ws.c.patch(ws.base, {"name": "\u00e9" * 200})
    assert r.status == 200 and r.json["name"] == "\u00e9" * 200
    for bad in ("", "a" * 201, None):
        assert_422(ws.c.patch(ws.base, {"name": bad}), "body", "name")
    assert ws.c.get(ws.base).json["name"] == "\u00e9" * 200


def test_delete_is_405(ws):
    r = ws.c.delete(ws.base)
    assert_error(r, 405)
    assert "DELETE" not in r.allow()
    assert ws.c.get(ws.base).status == 200


@pytest.mark.parametrize("name", ["  padded  ", "tab\tname", "ümlaut"])
def test_name_kept_verbatim(user, name):
    r = user.c.post("/workspaces", {"name": name})
    assert r.status == 201 and r.json["name"] == name
