"""The /auth/admin routes through the whole app (TestClient on mongomock): who may call
them, pagination and its bounds, and what each action does to the user it names.

The CLI that does the same: tests/unit/test_users_cli.py. An administrator disabling a
user through uvicorn and a real database: tests/e2e/test_admin.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId
from support.accounts import PUBLIC, Mailbox
from support.jwt import bearer
from support.settings import SECRET, make_settings

from authkit import create_app
from authkit.admin.settings import AdminSettings
from authkit.core.errors import ConfigError
from authkit.passwords.settings import SigninLimits
from authkit.passwords.throttle import Limit
from authkit.settings.loader import load_settings
from authkit.settings.model import SessionSettings

PASSWORD = "Passw0rd!x"
USERS = "/auth/admin/users"


def _app(client_for: Any, db: Any, **sections: Any) -> Any:
    return client_for(create_app(make_settings(**sections), database=db))


def _signin(client: Any, name: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/auth/signin", json={"username": name, "password": password})
    assert response.status_code == 201, response.text
    pair: dict[str, str] = response.json()
    return pair


def _user(client: Any, db: Any, name: str) -> str:
    assert client.post("/auth/signup", json={"username": name, "password": PASSWORD}).status_code
    return str(db["users"].find_one({"username": name})["_id"])


def _admin(client: Any, db: Any, name: str = "root") -> dict[str, str]:
    """An administrator's bearer header."""
    _user(client, db, name)
    db["users"].update_one({"username": name}, {"$set": {"roles": ["admin"]}})
    return bearer(_signin(client, name)["accessToken"])


@pytest.fixture
def admin_client(client_for: Any, db: Any) -> Any:
    return _app(client_for, db)


def test_anonymous_callers_get_401_and_non_admins_403(admin_client: Any, db: Any) -> None:
    user_id = _user(admin_client, db, "plain")
    plain = bearer(_signin(admin_client, "plain")["accessToken"])
    calls = [
        ("GET", USERS, None),
        ("POST", USERS, {"username": "newbie", "password": PASSWORD}),
        ("GET", f"{USERS}/{user_id}", None),
        ("POST", f"{USERS}/{user_id}/disable", None),
        ("POST", f"{USERS}/{user_id}/enable", None),
        ("PUT", f"{USERS}/{user_id}/roles", {"roles": ["admin"]}),
        ("POST", f"{USERS}/{user_id}/unlock", None),
        ("POST", f"{USERS}/{user_id}/signout-all", None),
        ("PUT", f"{USERS}/{user_id}/password", {"password": "An0ther-pass"}),
    ]
    for method, path, body in calls:
        anonymous = admin_client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        refused = admin_client.request(method, path, json=body, headers=plain)
        assert refused.status_code == 403, (method, path)
        assert refused.json()["message"] == "Missing scope: admin"
    assert db["users"].find_one({"username": "plain"}).get("roles") is None
    assert db["users"].find_one({"username": "newbie"}) is None


def test_a_token_with_the_role_is_refused_once_the_database_says_otherwise(
    admin_client: Any, db: Any
) -> None:
    root = _admin(admin_client, db)
    assert admin_client.get(USERS, headers=root).status_code == 200
    db["users"].update_one({"username": "root"}, {"$unset": {"roles": ""}})
    assert admin_client.get(USERS, headers=root).status_code == 403


def test_the_admin_role_is_a_setting(client_for: Any, db: Any) -> None:
    client = _app(client_for, db, admin=AdminSettings(role="ops"))
    _user(client, db, "opsy")
    db["users"].update_one({"username": "opsy"}, {"$set": {"roles": ["admin"]}})
    assert (
        client.get(USERS, headers=bearer(_signin(client, "opsy")["accessToken"])).status_code == 403
    )
    db["users"].update_one({"username": "opsy"}, {"$set": {"roles": ["ops"]}})
    assert (
        client.get(USERS, headers=bearer(_signin(client, "opsy")["accessToken"])).status_code == 200
    )


def test_pages_cover_every_user_once_in_creation_order(admin_client: Any, db: Any) -> None:
    root = _admin(admin_client, db)
    names = [f"user{i:02d}" for i in range(7)]
    for name in names:
        _user(admin_client, db, name)
    seen: list[str] = []
    after = None
    for _ in range(10):
        params = {"limit": "3", **({"after": after} if after else {})}
        page = admin_client.get(USERS, params=params, headers=root).json()
        assert len(page["users"]) <= 3
        seen += [u["username"] for u in page["users"]]
        after = page["next"]
        if after is None:
            break
    assert seen == ["root", *names]
    first = admin_client.get(USERS, headers=root).json()["users"][1]
    assert set(first) == {"_id", "username", "roles", "disabled", "createdAt"}
    assert (first["roles"], first["disabled"]) == ([], False)


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1e3", ""])
def test_a_limit_outside_one_to_a_hundred_is_a_400(admin_client: Any, db: Any, limit: str) -> None:
    answer = admin_client.get(USERS, params={"limit": limit}, headers=_admin(admin_client, db))
    assert answer.status_code == 400
    assert answer.json()["message"] == ["limit must be a whole number from 1 to 100"]


def test_the_largest_page_is_a_hundred(admin_client: Any, db: Any) -> None:
    root = _admin(admin_client, db)
    db["users"].insert_many(
        [{"username": f"bulk{i:03d}", "password": "$2b$04$x", "__v": 0} for i in range(120)]
    )
    page = admin_client.get(USERS, params={"limit": "100"}, headers=root).json()
    assert len(page["users"]) == 100 and page["next"] is not None


@pytest.mark.parametrize("after", ["nope", "0" * 23, {"$gt": ""}.__repr__()])
def test_a_cursor_that_is_no_user_id_is_a_400(admin_client: Any, db: Any, after: str) -> None:
    answer = admin_client.get(USERS, params={"after": after}, headers=_admin(admin_client, db))
    assert answer.status_code == 400


def test_search_is_a_prefix_of_the_canonical_name_taken_literally(
    admin_client: Any, db: Any
) -> None:
    root = _admin(admin_client, db)
    for name in ("Alice", "alfred", "bob.", "bobby"):
        _user(admin_client, db, name)
    found = admin_client.get(USERS, params={"q": "al"}, headers=root).json()["users"]
    assert sorted(u["username"] for u in found) == ["Alice", "alfred"]
    dotted = admin_client.get(USERS, params={"q": "bob."}, headers=root).json()["users"]
    assert [u["username"] for u in dotted] == ["bob."]  # the dot is no pattern
    too_long = admin_client.get(USERS, params={"q": "x" * 65}, headers=root)
    assert too_long.status_code == 400


def test_show_one_user_or_404(admin_client: Any, db: Any) -> None:
    root = _admin(admin_client, db)
    user_id = _user(admin_client, db, "shown")
    shown = admin_client.get(f"{USERS}/{user_id}", headers=root).json()
    assert (shown["_id"], shown["username"]) == (user_id, "shown")
    for missing in (str(ObjectId()), "not-an-id"):
        answer = admin_client.get(f"{USERS}/{missing}", headers=root)
        assert (answer.status_code, answer.json()["message"]) == (404, "User not found")


def test_disable_ends_sessions_and_enable_lets_the_user_back(admin_client: Any, db: Any) -> None:
    root = _admin(admin_client, db)
    user_id = _user(admin_client, db, "victim")
    pair = _signin(admin_client, "victim")
    disabled = admin_client.post(f"{USERS}/{user_id}/disable", headers=root)
    assert (disabled.status_code, disabled.json()["disabled"]) == (200, True)
    refresh = admin_client.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]})
    assert refresh.status_code == 401
    signin = admin_client.post("/auth/signin", json={"username": "victim", "password": PASSWORD})
    assert signin.status_code == 403
    enabled = admin_client.post(f"{USERS}/{user_id}/enable", headers=root)
    assert (enabled.status_code, enabled.json()["disabled"]) == (200, False)
    assert "disabled" not in db["users"].find_one({"username": "victim"})
    _signin(admin_client, "victim")


def test_an_admin_cannot_disable_or_demote_themselves(admin_client: Any, db: Any) -> None:
    root = _admin(admin_client, db)
    root_id = str(db["users"].find_one({"username": "root"})["_id"])
    answer = admin_client.post(f"{USERS}/{root_id}/disable", headers=root)
    assert (answer.status_code, answer.json()["message"]) == (
        409,
        "You cannot disable your own account",
    )
    demote = admin_client.put(f"{USERS}/{root_id}/roles", json={"roles": ["x"]}, headers=root)
    assert demote.status_code == 409
    keep = admin_client.put(
        f"{USERS}/{root_id}/roles", json={"roles": ["admin", "ops"]}, headers=root
    )
    assert keep.json()["roles"] == ["admin", "ops"]


@pytest.mark.parametrize(
    "roles", [["has space"], ["ok", 3], "", None, {"$set": 1}, ["-leading"], ["x" * 65]]
)
def test_roles_that_are_no_role_names_are_a_400(admin_client: Any, db: Any, roles: Any) -> None:
    root = _admin(admin_client, db)
    user_id = _user(admin_client, db, "target")
    answer = admin_client.put(f"{USERS}/{user_id}/roles", json={"roles": roles}, headers=root)
    if roles == "":
        # An empty string is an empty list of roles: clears them.
        assert answer.status_code == 200 and answer.json()["roles"] == []
        return
    assert answer.status_code == 400, answer.text
    assert db["users"].find_one({"username": "target"}).get("roles") is None


def test_set_roles_replaces_them_and_a_form_may_list_them(admin_client: Any, db: Any) -> None:
    root = _admin(admin_client, db)
    user_id = _user(admin_client, db, "editor")
    answer = admin_client.put(
        f"{USERS}/{user_id}/roles", data={"roles": "editor, reports:read editor"}, headers=root
    )
    assert answer.json()["roles"] == ["editor", "reports:read"]
    assert db["users"].find_one({"username": "editor"})["roles"] == ["editor", "reports:read"]


def test_unlock_clears_a_lock_out(client_for: Any, db: Any) -> None:
    limits = SigninLimits(per_account=Limit(3, 900), per_address=Limit(100, 900))
    client = _app(client_for, db, signin_limits=limits)
    root = _admin(client, db)
    user_id = _user(client, db, "locked")
    for _ in range(3):
        client.post("/auth/signin", json={"username": "locked", "password": "Wrong-pass1"})
    locked = client.post("/auth/signin", json={"username": "locked", "password": PASSWORD})
    assert locked.status_code == 429
    unlocked = client.post(f"{USERS}/{user_id}/unlock", headers=root)
    assert unlocked.json() == {"cleared": 3}
    _signin(client, "locked")


def test_signout_all_ends_every_session_of_the_user(admin_client: Any, db: Any) -> None:
    root = _admin(admin_client, db)
    user_id = _user(admin_client, db, "many")
    pairs = [_signin(admin_client, "many") for _ in range(2)]
    answer = admin_client.post(f"{USERS}/{user_id}/signout-all", headers=root)
    assert answer.json() == {"sessions": 2}
    for pair in pairs:
        refresh = admin_client.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]})
        assert refresh.status_code == 401


def test_set_password_applies_the_policy_and_ends_sessions(admin_client: Any, db: Any) -> None:
    root = _admin(admin_client, db)
    user_id = _user(admin_client, db, "forgetful")
    pair = _signin(admin_client, "forgetful")
    weak = admin_client.put(f"{USERS}/{user_id}/password", json={"password": "short"}, headers=root)
    assert weak.status_code == 400
    same_as_name = admin_client.put(
        f"{USERS}/{user_id}/password", json={"password": "forgetful"}, headers=root
    )
    assert same_as_name.status_code == 400
    assert admin_client.put(f"{USERS}/{user_id}/password", json={}, headers=root).status_code == 400
    done = admin_client.put(
        f"{USERS}/{user_id}/password", json={"password": "N3w-password"}, headers=root
    )
    assert done.status_code == 204
    assert (
        admin_client.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]}).status_code
        == 401
    )
    old = admin_client.post("/auth/signin", json={"username": "forgetful", "password": PASSWORD})
    assert old.status_code == 401
    _signin(admin_client, "forgetful", "N3w-password")


def test_closed_signup_answers_403_and_admins_still_create_users(client_for: Any, db: Any) -> None:
    open_client = _app(client_for, db)
    root = _admin(open_client, db)
    client = _app(client_for, db, admin=AdminSettings(signup="closed"))
    refused = client.post("/auth/signup", json={"username": "walkin", "password": PASSWORD})
    assert refused.status_code == 403
    assert refused.json() == {
        "message": "Sign-up is closed: an administrator creates accounts",
        "error": "Forbidden",
        "statusCode": 403,
    }
    assert db["users"].find_one({"username": "walkin"}) is None
    created = client.post(
        USERS, json={"username": "invited", "password": PASSWORD, "roles": ["editor"]}, headers=root
    )
    assert created.status_code == 201, created.text
    assert (created.json()["username"], created.json()["roles"]) == ("invited", ["editor"])
    again = client.post(USERS, json={"username": "invited", "password": PASSWORD}, headers=root)
    assert (again.status_code, again.json()["message"]) == (409, "User already exists")
    bad = client.post(USERS, json={"username": "x", "password": "y"}, headers=root)
    assert bad.status_code == 400
    _signin(client, "invited")


def test_the_openapi_document_describes_the_admin_routes(admin_client: Any) -> None:
    paths = admin_client.get("/openapi.json").json()["paths"]
    listing = paths[USERS]["get"]
    assert listing["security"] == [{"jwt": ["admin"]}]
    assert {"200", "400", "401", "403"} <= set(listing["responses"])
    assert paths[f"{USERS}/{{user_id}}/password"]["put"]["operationId"] == "adminSetPassword"


def test_with_revocation_checks_disable_stops_the_users_tokens(client_for: Any, db: Any) -> None:
    client = _app(client_for, db, sessions=SessionSettings(revocation_checks=True))
    root = _admin(client, db)
    user_id = _user(client, db, "cutoff")
    token = bearer(_signin(client, "cutoff")["accessToken"])
    assert client.get("/auth/me", headers=token).status_code == 200
    assert client.post(f"{USERS}/{user_id}/disable", headers=root).status_code == 200
    assert client.get("/auth/me", headers=token).status_code == 401


def test_set_password_works_for_a_name_the_nestjs_app_let_in(admin_client: Any, db: Any) -> None:
    root = _admin(admin_client, db)
    legacy = db["users"].insert_one({"username": "abc", "password": "$2b$04$x", "__v": 0})
    answer = admin_client.put(
        f"{USERS}/{legacy.inserted_id}/password", json={"password": "N3w-password"}, headers=root
    )
    assert answer.status_code == 204, answer.text
    _signin(admin_client, "abc", "N3w-password")


@pytest.mark.parametrize(
    "search", ["\x00", "(", "[a-", "$where", "\uff41\uff4c", "\u200b", "a" * 64]
)
def test_any_search_text_is_an_answer_never_an_error(
    admin_client: Any, db: Any, search: str
) -> None:
    answer = admin_client.get(USERS, params={"q": search}, headers=_admin(admin_client, db))
    assert answer.status_code == 200, answer.text
    assert answer.json()["users"] == []  # only root exists, and no text here finds it


def test_an_admin_role_that_is_no_role_name_stops_the_start(db: Any) -> None:
    with pytest.raises(ConfigError, match="AUTHKIT_ADMIN_ROLE='two words' is not a role name"):
        create_app(make_settings(admin=AdminSettings(role="two words")), database=db)


def test_the_settings_are_read_from_the_environment() -> None:
    settings = load_settings(
        {"JWT_SECRET": SECRET, "AUTHKIT_SIGNUP": "closed", "AUTHKIT_ADMIN_ROLE": "ops"},
        plugins=[],
    )
    assert (settings.admin.signup, settings.admin.role) == ("closed", "ops")
    with pytest.raises(ConfigError, match="AUTHKIT_SIGNUP"):
        load_settings({"JWT_SECRET": SECRET, "AUTHKIT_SIGNUP": "maybe"}, plugins=[])


def test_a_password_an_administrator_sets_is_told_to_the_users_verified_address(
    client_for: Any, db: Any, mailbox: Mailbox
) -> None:
    client = _app(client_for, db, server=PUBLIC)
    root = _admin(client, db)
    user_id = _user(client, db, "forgetful")
    verified = {"email": "f@example.com", "email_key": "f@example.com", "email_verified": True}
    db["users"].update_one(
        {"username": "forgetful"}, {"$set": {**verified, "verified_email_key": "f@example.com"}}
    )
    done = client.put(
        f"{USERS}/{user_id}/password", json={"password": "N3w-password"}, headers=root
    )
    assert done.status_code == 204
    (notice,) = mailbox.wait(1)
    assert "Your password was changed" in notice and "f@example.com" in notice
