"""CONTRACT §4, §8 — users: email (trimmed, one '@' with text on both
sides, ≤254, returned as given, unique case-insensitively → 409),
display_name 1..200 code points, PATCH null rules, DELETE → 405."""
import pytest

from fm import assert_422, assert_error, unique

DOMAIN = "@example.com"


def test_email_trimmed_and_returned_as_given(api):
    local = unique("MiXeD")
    r = api.admin.post("/users", {"email": "  \t%s%s  " % (local, "@Example.COM")})
    assert r.status == 201, r
    assert r.json["email"] == local + "@Example.COM"
    assert api.admin.get("/users/%s" % r.json["user_id"]).json["email"] == local + "@Example.COM"


def test_email_unique_case_insensitively(api):
    local = unique("dup")
    r = api.admin.post("/users", {"email": local + "@example.com"})
    assert r.status == 201
    for variant in (local.upper() + "@EXAMPLE.COM", "  " + local + "@example.com", local + "@Example.com"):
        assert_error(api.admin.post("/users", {"email": variant}), 409)
    # PATCH into a taken address
    other = api.user()
    assert_error(api.admin.patch("/users/%s" % other.id, {"email": local.upper() + "@example.com"}), 409)
    assert api.admin.get("/users/%s" % other.id).json["email"] == other.email


def test_email_patch_own_case_change_is_fine(api):
    u = api.user()
    r = api.admin.patch("/users/%s" % u.id, {"email": u.email.upper()})
    assert r.status == 200 and r.json["email"] == u.email.upper(), r


@pytest.mark.parametrize("email", ["", "   ", "no-at-sign", "@example.com", "user@", "a@b@c", "  @  ",
                                   "a" * 243 + DOMAIN, "x@" + "d" * 253])
def test_bad_emails_are_422(api, email):
    r = api.admin.post("/users", {"email": email})
    assert_422(r, "body", "email")


def test_email_length_limit_is_254(api):
    local = unique("l")
    e = local + "a" * (254 - len(local) - len(DOMAIN)) + DOMAIN
    assert len(e) == 254
    r = api.admin.post("/users", {"email": "  " + e + "  "})
    assert r.status == 201 and r.json["email"] == e, r
    r = api.admin.post("/users", {"email": "b" + e})
    assert_422(r, "body", "email")


def test_email_length_counts_code_points(api):
    local = unique("u") + "\u00e9" * 200
    e = local + "@" + "x" * (254 - len(local) - 1)
    assert len(e) == 254 and len(e.encode()) > 254
    r = api.admin.post("/users", {"email": e})
    assert r.status == 201, r
    assert r.json["email"] == e


@pytest.mark.parametrize("value", [None, 5, ["a@b"], {"a": 1}, True])
def test_email_wrong_type_is_422(api, value):
    assert_422(api.admin.post("/users", {"email": value}), "body", "email")


def test_email_required(api):
    assert_422(api.admin.post("/users", {"display_name": "x"}), "body", "email")


def test_email_null_in_patch_is_422(api, user):
    assert_422(api.admin.patch("/users/%s" % user.id, {"email": None}), "body", "email")


def test_display_name_lengths(api):
    ok = api.admin.post("/users", {"email": unique("d") + DOMAIN, "display_name": "\U0001F600" * 200})
    assert ok.status == 201 and ok.json["display_name"] == "\U0001F600" * 200, ok
    ok = api.admin.post("/users", {"email": unique("d") + DOMAIN, "display_name": "x"})
    assert ok.status == 201
    for bad in ("", "\u00e9" * 201, "a" * 201):
        assert_422(api.admin.post("/users", {"email": unique("d") + DOMAIN, "display_name": bad}), "body",
                   "display_name")


def test_display_name_null_clears(api):
    u = api.user(display_name="Named")
    assert u.obj["display_name"] == "Named"
    r = api.admin.patch("/users/%s" % u.id, {"display_name": None})
    assert r.status == 200 and r.json["display_name"] is None, r
    assert api.admin.get("/users/%s" % u.id).json["display_name"] is None


def test_defaults(api):
    r = api.admin.post("/users", {"email": unique("def") + DOMAIN})
    o = r.json
    assert o["display_name"] is None and o["last_login_at"] is None
    assert o["is_active"] is True and o["is_service_account"] is False and o["is_admin"] is False


def test_flags_settable_by_admin(api):
    r = api.admin.post("/users", {"email": unique("svc") + DOMAIN, "is_service_account": True, "is_active": False})
    assert r.status == 201 and r.json["is_service_account"] is True and r.json["is_active"] is False


@pytest.mark.parametrize("field", ["is_active", "is_service_account", "is_admin"])
def test_flag_null_is_422(api, user, field):
    assert_422(api.admin.patch("/users/%s" % user.id, {field: None}), "body", field)


@pytest.mark.parametrize("value", ["yes-please", 2, [], {}])
def test_flag_wrong_type_is_422(api, user, value):
    assert_422(api.admin.patch("/users/%s" % user.id, {"is_active": value}), "body", "is_active")


def test_last_login_at_set_and_cleared(api, user):
    r = api.admin.patch("/users/%s" % user.id, {"last_login_at": "2025-03-01T10:30:00+01:00"})
    assert r.status == 200 and r.json["last_login_at"] == "2025-03-01T09:30:00.000000Z", r
    r = api.admin.patch("/users/%s" % user.id, {"last_login_at": None})
    assert r.status == 200 and r.json["last_login_at"] is None


def test_delete_user_is_405(api, user):
    r = api.admin.delete("/users/%s" % user.id)
    assert_error(r, 405)
    assert "PATCH" in r.allow() and "DELETE" not in r.allow()
    assert api.admin.get("/users/%s" % user.id).status == 200


def test_patch_unknown_user_404(api):
    assert_error(api.admin.patch("/users/00000000-0000-7000-8000-000000000000", {"display_name": "x"}), 404)


def test_email_case_folding_is_ascii_only(api):
    m = unique("fold")
    a = api.admin.post("/users", {"email": "\u00d1%s@example.com" % m})
    b = api.admin.post("/users", {"email": "\u00f1%s@example.com" % m})
    assert a.status == 201 and b.status == 201, (a, b)
    c = api.admin.post("/users", {"email": "\u00f1%s@EXAMPLE.com" % m})
    assert_error(c, 409)


@pytest.mark.parametrize("email", ["admin@firemode.local", "  Admin@FireMode.Local "])
def test_bootstrap_email_is_reserved(api, email):
    """FIREMODE_ADMIN_TOKEN makes admin@firemode.local an admin at start:
    no API write may give that address to another user."""
    assert_422(api.admin.post("/users", {"email": email}), "body", "email")
    u = api.user()
    assert_422(u.c.patch("/users/%s" % u.id, {"email": email}), "body", "email")
    assert_422(api.admin.patch("/users/%s" % u.id, {"email": email}), "body", "email")
