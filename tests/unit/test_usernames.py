"""Issue #16 item 4: a username has one canonical form (PRECIS NicknameCaseMapped, RFC 8266)
and a look-alike key (UTS #39 skeleton); look-alikes are one account, names with control or
invisible characters are refused with a 400, and the NestJS app's users keep signing in.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import bcrypt
import mongomock
import pytest
from bson import ObjectId
from starlette.testclient import TestClient
from support.settings import make_settings

import authkit.storage.database
from authkit.cli.check import _report_database
from authkit.passwords.settings import SigninLimits
from authkit.passwords.throttle import Limit
from authkit.users.names import name_report

PASSWORD = "Passw0rd!x"
ALICE = "alice"

# Each is `alice` to a reader, or differs from it only in what a reader cannot see.
LOOKALIKES = {
    "upper case": "ALICE",
    "title case": "Alice",
    "fullwidth": "\uff41\uff4c\uff49\uff43\uff45",
    "cyrillic a": "\u0430lice",
    "cyrillic a, i, c, e": "\u0430l\u0456\u0441\u0435",
    "trailing spaces": "alice  ",
    "leading space": " alice",
    "capital I for l": "aIice",
    "dotted capital I": "AL\u0130CE",
}
INVISIBLE = {
    "zero-width space": "ali\u200bce",
    "zero-width joiner": "ali\u200dce",
    "BOM": "\ufeffalice",
    "soft hyphen": "ali\u00adce",
    "bidi override": "\u202ealice",
    "bidi isolate": "alice\u2066",
}
CONTROLS = {
    "LF": "alice\n",
    "CR": "ali\rce",
    "ESC": "\x1b[31malice",
    "NUL": "ali\x00ce",
    "line separator": "ali\u2028ce",
    "NEL": "ali\u0085ce",
    "tab": "ali\tce",
}
BLANK = {"spaces": "     ", "ideographic spaces": "\u3000\u3000\u3000\u3000", "tabs": "\t\t\t\t"}


def sign_up(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    return client.post("/auth/signup", json={"username": username, "password": password})


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    return client.post("/auth/signin", json={"username": username, "password": password})


def me(client: TestClient, signin: Any) -> Any:
    token = signin.json()["accessToken"]
    return client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).json()


def node_user(db: Any, username: str, password_hash: str) -> str:
    """A user as the NestJS app stores one: no canonical name, no mark on the hash."""
    oid = ObjectId()
    db["users"].insert_one({"_id": oid, "username": username, "password": password_hash, "__v": 0})
    return str(oid)


@pytest.mark.parametrize("spelling", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_a_lookalike_of_a_taken_name_is_refused_as_a_duplicate(
    client: TestClient, spelling: str
) -> None:
    assert sign_up(client, ALICE).status_code == 201
    again = sign_up(client, spelling, "An0ther-pass")
    assert again.status_code == 409, spelling
    assert again.json()["message"] == "User already exists"


def test_nfc_and_nfd_spellings_of_a_name_are_one_account(client: TestClient) -> None:
    nfc, nfd = unicodedata.normalize("NFC", "élodie"), unicodedata.normalize("NFD", "élodie")
    assert nfc != nfd
    assert sign_up(client, nfd).status_code == 201
    assert sign_up(client, nfc).status_code == 409
    signin = sign_in(client, nfc)
    assert signin.status_code == 201
    assert me(client, signin)["username"] == nfd  # shown as it was signed up


@pytest.mark.parametrize("spelling", ["ALICE", "\uff21lice", "alice ", " Alice"])
def test_sign_in_finds_the_user_by_the_canonical_form(client: TestClient, spelling: str) -> None:
    assert sign_up(client, ALICE).status_code == 201
    signin = sign_in(client, spelling)
    assert signin.status_code == 201, spelling
    assert me(client, signin)["username"] == ALICE
    assert sign_in(client, spelling, "Wrong-pass1").status_code == 401


@pytest.mark.parametrize("name", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_names_with_invisible_characters_are_refused_at_signup(
    client: TestClient, db: Any, name: str
) -> None:
    response = sign_up(client, name)
    assert response.status_code == 400, repr(name)
    assert response.json()["message"] == [
        "username must not contain invisible characters (zero-width, BOM, soft hyphen, "
        "bidi controls)"
    ]
    assert db["users"].count_documents({}) == 0


@pytest.mark.parametrize("name", CONTROLS.values(), ids=CONTROLS.keys())
def test_names_with_control_characters_are_refused_at_signup_and_signin(
    client: TestClient, db: Any, name: str
) -> None:
    message = ["username must not contain control characters"]
    up = sign_up(client, name)
    assert (up.status_code, up.json()["message"]) == (400, message), repr(name)
    assert db["users"].count_documents({}) == 0
    signin = sign_in(client, name)
    assert (signin.status_code, signin.json()["message"]) == (400, message), repr(name)


@pytest.mark.parametrize("name", BLANK.values(), ids=BLANK.keys())
def test_blank_names_are_refused_at_signup_and_signin(client: TestClient, name: str) -> None:
    message = ["username must not be blank"]
    up = sign_up(client, name)
    assert (up.status_code, up.json()["message"]) == (400, message), repr(name)
    signin = sign_in(client, name)
    assert (signin.status_code, signin.json()["message"]) == (400, message), repr(name)


def test_a_name_short_once_canonical_is_too_short(client: TestClient) -> None:
    response = sign_up(client, "  ab  ")
    assert response.status_code == 400
    assert response.json()["message"] == ["username must be longer than or equal to 4 characters"]


def test_emoji_and_inner_spaces_stay_allowed(client: TestClient) -> None:
    # The NestJS app accepted both (the contract signs up 14 emoji); RFC 8265's
    # IdentifierClass would refuse them, NicknameCaseMapped does not.
    assert sign_up(client, "q\N{GRINNING FACE}\N{GRINNING FACE}x").status_code == 201
    assert sign_up(client, "Jane Doe").status_code == 201
    assert sign_up(client, "jane   doe").status_code == 409  # inner runs of spaces are one
    assert sign_up(client, "jane\u00a0doe").status_code == 409  # a no-break space is a space


def test_node_users_sign_in_and_a_lookalike_of_them_cannot_sign_up(
    db: Any,
    make_client: Callable[..., TestClient],
    node_compat: dict[str, Any],
) -> None:
    for user in node_compat["users"]:
        node_user(db, user["username"], user["hash"])
    client = make_client()  # its start gives them their canonical names
    for user in node_compat["users"]:
        assert sign_in(client, user["username"], user["password"]).status_code == 201
    assert sign_up(client, "NODEUSER1", "An0ther-pass").status_code == 409
    assert sign_up(client, "\u00c9lodie", "An0ther-pass").status_code == 409  # É


def test_a_node_user_added_while_authkit_runs_gets_a_canonical_name_at_sign_in(
    db: Any, client: TestClient, node_compat: dict[str, Any]
) -> None:
    user = node_compat["users"][0]
    node_user(db, user["username"], user["hash"])  # after start: no backfill saw it
    assert sign_in(client, user["username"], user["password"]).status_code == 201
    assert sign_up(client, user["username"].upper(), "An0ther-pass").status_code == 409


def test_node_users_whose_names_collide_both_keep_signing_in(
    db: Any, make_client: Callable[..., TestClient]
) -> None:
    hashes = {
        name: bcrypt.hashpw(f"{name}-pass1".encode(), bcrypt.gensalt(4)).decode()
        for name in ("Bobby", "bobby", "b\u200bobby")
    }
    ids = {name: node_user(db, name, hashed) for name, hashed in hashes.items()}
    client = make_client()
    for name in hashes:
        signin = sign_in(client, name, f"{name}-pass1")
        assert signin.status_code == 201, repr(name)
        assert me(client, signin)["_id"] == ids[name]
    assert sign_up(client, "BOBBY", "An0ther-pass").status_code == 409


def test_name_report_groups_lookalikes_and_lists_names_without_a_canonical_form() -> None:
    report = name_report(["Bob", "bob", "\u0430lice", "alice", "carol", "b\u200bob", "x\ny"])
    assert report.collisions == [["Bob", "bob"], ["alice", "\u0430lice"]]
    assert report.refused == ["b\u200bob", "x\ny"]


def test_authkit_check_reports_names_that_collide_once_canonicalised(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = mongomock.MongoClient()
    users = server.get_database("authkit")["users"]
    for name in ("Bob", "bob", "\u0430lice", "alice", "carol", "b\u200bob"):
        users.insert_one({"_id": ObjectId(), "username": name, "password": "x", "__v": 0})
    monkeypatch.setattr(authkit.storage.database, "open_client", lambda uri: server)
    monkeypatch.setattr(server, "close", lambda: None)
    _report_database("mongodb://127.0.0.1/authkit", "test database")
    out = capsys.readouterr().out
    assert "names that collide once canonicalised: 2 group(s)\n" in out
    assert "    'Bob', 'bob'\n" in out
    assert "    'alice', '\\u0430lice'\n" in out
    assert "names with no canonical form (exact match only): 1\n    'b\\u200bob'\n" in out


def test_spellings_of_one_name_share_the_per_account_limit(
    make_client: Callable[..., TestClient],
) -> None:
    limits = SigninLimits(per_account=Limit(3, 900), per_address=None)
    client = make_client(make_settings(signin_limits=limits))
    assert sign_up(client, ALICE).status_code == 201
    for spelling in ("alice", "ALICE", "alice "):
        assert sign_in(client, spelling, "Wrong-pass1").status_code == 401, spelling
    throttled = sign_in(client, "\uff41lice", PASSWORD)  # the right password, too late
    assert throttled.status_code == 429
