"""`authkit create-user --role` and `authkit users ...`, run through `authkit.cli.main.main`
against mongomock (the commands' `open_client` hands them one in-memory client, so the
test reads what they wrote). The same commands against a real database, beside a running
service: tests/e2e/test_admin.py.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import mongomock
import pytest

import authkit.storage.database
from authkit.cli.main import main

PASSWORD = "Passw0rd!x"


@pytest.fixture
def mongo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    client = mongomock.MongoClient()
    monkeypatch.setattr(authkit.storage.database, "open_client", lambda uri, **kw: client)
    monkeypatch.setenv("MONGO_URI", "mongodb://127.0.0.1:9/authkit")
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("JWT_SECRET", "cli-test-secret-0123456789abcdef0123456789")
    monkeypatch.chdir(tmp_path)  # no .env of the repository's
    return client.get_default_database("authkit")


def run(
    args: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_create_user_with_role_admin_makes_an_administrator(
    mongo: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(
        ["create-user", "root", "--role", "admin", "--role", "ops"],
        capsys,
        monkeypatch,
        PASSWORD + "\n",
    )
    assert code == 0, err
    assert out.startswith("created user 'root' with id ") and out.endswith(
        " and roles admin, ops\n"
    )
    assert mongo["users"].find_one({"username": "root"})["roles"] == ["admin", "ops"]


def test_create_user_without_a_role_stores_the_seeds_document(
    mongo: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(["create-user", "plain"], capsys, monkeypatch, PASSWORD + "\n")[0] == 0
    assert "roles" not in mongo["users"].find_one({"username": "plain"})


def test_create_user_refuses_a_role_that_is_no_role_name(
    mongo: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(
        ["create-user", "odd", "--role", "a b"], capsys, monkeypatch, PASSWORD + "\n"
    )
    assert code == 1 and err.startswith("authkit: each role must be")
    assert mongo["users"].find_one({"username": "odd"}) is None


def _seed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *names: str) -> None:
    for name in names:
        assert run(["create-user", name], capsys, monkeypatch, PASSWORD + "\n")[0] == 0


def test_users_list_pages_and_searches(
    mongo: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(monkeypatch, capsys, "alice", "alfred", "bobby")
    code, out, _ = run(["users", "list", "--limit", "2"], capsys, monkeypatch)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert "  alice  roles: -" in lines[0] and "  alfred  " in lines[1]
    after = lines[2].split("--after ")[1].rstrip(")")
    code, out, _ = run(["users", "list", "--after", after], capsys, monkeypatch)
    assert [line.split("  ")[1] for line in out.splitlines()] == ["bobby"]
    code, out, _ = run(["users", "list", "--search", "AL"], capsys, monkeypatch)
    assert [line.split("  ")[1] for line in out.splitlines()] == ["alice", "alfred"]
    assert run(["users", "list", "--limit", "101"], capsys, monkeypatch)[0] == 1
    assert run(["users", "list", "--after", "x"], capsys, monkeypatch)[0] == 1


def test_users_disable_enable_and_show(
    mongo: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(monkeypatch, capsys, "carol")
    assert run(["users", "disable", "carol"], capsys, monkeypatch)[1] == "disabled user 'carol'\n"
    assert mongo["users"].find_one({"username": "carol"})["disabled"] is True
    assert run(["users", "show", "CAROL"], capsys, monkeypatch)[1].endswith("  disabled\n")
    assert run(["users", "enable", "carol"], capsys, monkeypatch)[1] == "enabled user 'carol'\n"
    assert "disabled" not in mongo["users"].find_one({"username": "carol"})
    user_id = str(mongo["users"].find_one({"username": "carol"})["_id"])
    code, out, _ = run(["users", "show", user_id], capsys, monkeypatch)  # by id too
    assert code == 0 and out.startswith(f"{user_id}  carol  roles: -")
    code, _, err = run(["users", "show", "nobody"], capsys, monkeypatch)
    assert (code, err) == (1, "authkit: no user named 'nobody'\n")


def test_users_set_roles_replaces_and_clears(
    mongo: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(monkeypatch, capsys, "dave")
    version = mongo["users"].find_one({"username": "dave"}).get("token_version", 0)
    code, out, _ = run(["users", "set-roles", "dave", "editor", "admin"], capsys, monkeypatch)
    assert (code, out) == (0, "roles of 'dave': editor,admin\n")
    doc = mongo["users"].find_one({"username": "dave"})
    assert doc["roles"] == ["editor", "admin"] and doc["token_version"] == version + 1
    assert run(["users", "set-roles", "dave"], capsys, monkeypatch)[1] == "roles of 'dave': -\n"
    assert "roles" not in mongo["users"].find_one({"username": "dave"})
    code, _, err = run(["users", "set-roles", "dave", "$bad"], capsys, monkeypatch)
    assert code == 1 and "each role must be" in err


def test_users_unlock_and_signout_all(
    mongo: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(monkeypatch, capsys, "erin")
    mongo["signin_failures"].insert_many(
        [{"account": "erin", "address": f"198.51.100.{i}", "at": 1.0} for i in range(4)]
        + [{"account": "other", "address": "198.51.100.1", "at": 1.0}]
    )
    code, out, _ = run(["users", "unlock", "Erin"], capsys, monkeypatch)
    assert (code, out) == (0, "unlocked 'erin' (4 failure(s) forgotten)\n")
    assert mongo["signin_failures"].count_documents({}) == 1
    code, out, _ = run(["users", "signout-all", "erin"], capsys, monkeypatch)
    assert (code, out) == (0, "ended 0 session(s) of 'erin'\n")
    assert mongo["users"].find_one({"username": "erin"})["token_version"] == 1


def test_users_set_password_applies_the_policy(
    mongo: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(monkeypatch, capsys, "frank")
    before = mongo["users"].find_one({"username": "frank"})["password"]
    code, _, err = run(["users", "set-password", "frank"], capsys, monkeypatch, "short\n")
    assert code == 1 and "password" in err.lower()
    code, out, _ = run(["users", "set-password", "frank"], capsys, monkeypatch, "N3w-password\n")
    assert (code, out) == (0, "password of 'frank' set; every session ended\n")
    after = mongo["users"].find_one({"username": "frank"})
    assert after["password"] != before and after["password_nfc"] is True
