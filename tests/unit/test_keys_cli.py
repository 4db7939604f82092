"""`authkit keys generate|rotate|list` and the key-set line of `authkit check`, in-process
(authkit.cli.main): files, modes, overlap from the settings, and one-line errors with a
non-zero status. The keys themselves: tests/unit/test_keys.py.
"""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from authkit.cli.main import main
from authkit.settings.loader import ENV_VARS
from authkit.tokens.keys import ACTIVATION_DELAY, RELOAD_SECONDS, RETIRES, SigningKeys


@pytest.fixture(autouse=True)
def no_settings_from_outside(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_generate_writes_a_private_key_set(
    alg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["keys", "generate", "--alg", alg, "--file", "keys.json"], capsys)
    assert (code, err) == (0, "")
    path = tmp_path / "keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = SigningKeys.read(path).signing_key(time.time())
    assert key.alg == alg
    assert f"signing key {key.kid}" in out
    assert f"AUTHKIT_JWT_KEYS={path}" in out


def test_generate_refuses_to_replace_a_key_set_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["keys", "generate", "--file", "keys.json"], capsys)[0] == 0
    before = (tmp_path / "keys.json").read_text()
    code, _, err = run(["keys", "generate", "--file", "keys.json"], capsys)
    assert code == 1
    assert err == "authkit: keys.json already exists; use rotate, or --force to replace it\n"
    assert (tmp_path / "keys.json").read_text() == before
    assert run(["keys", "generate", "--file", "keys.json", "--force"], capsys)[0] == 0
    assert (tmp_path / "keys.json").read_text() != before


def test_the_file_defaults_to_authkit_jwt_keys_from_the_env_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["keys", "generate"], capsys)
    assert (code, err) == (2, "authkit: give --file, or set AUTHKIT_JWT_KEYS\n")
    (tmp_path / ".env").write_text("AUTHKIT_JWT_KEYS=from-env.json\n")
    assert run(["keys", "generate"], capsys)[0] == 0
    assert (tmp_path / "from-env.json").is_file()


def test_rotate_keeps_the_old_key_for_the_token_lifetime_plus_reload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".env").write_text("JWT_EXPIRES_IN=15m\nAUTHKIT_JWT_LEEWAY=30\n")
    run(["keys", "generate", "--alg", "ES256", "--file", "keys.json"], capsys)
    old = SigningKeys.read(tmp_path / "keys.json").signing_key(time.time())

    started = int(time.time())
    code, out, err = run(["keys", "rotate", "--file", "keys.json", "--alg", "EdDSA"], capsys)

    assert (code, err) == (0, "")
    keys = SigningKeys.read(tmp_path / "keys.json")
    new = keys.newest()
    assert (new.alg, len(keys.keys)) == ("EdDSA", 2)
    # It signs once every server has had the time to re-read the file; the old key signs
    # until then, and verifies for a token lifetime, the leeway and a reload after that.
    assert started + ACTIVATION_DELAY <= new.created_at <= int(time.time()) + ACTIVATION_DELAY
    assert keys.signing_key(started).kid == old.kid
    assert keys.signing_key(new.created_at).kid == new.kid
    (kept,) = [k for k in keys.keys if k.kid == old.kid]
    assert kept.retires_at == new.created_at + 15 * 60 + 30 + RELOAD_SECONDS
    assert f"new EdDSA signing key {new.kid}" in out
    assert "it signs from" in out
    assert f"key {old.kid} verifies until" in out
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600


def test_rotate_with_overlap_zero_retires_at_once_and_the_next_rotation_drops_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["keys", "generate", "--file", "keys.json"], capsys)
    first = SigningKeys.read(tmp_path / "keys.json").signing_key(time.time()).kid
    assert run(["keys", "rotate", "--file", "keys.json", "--overlap", "0"], capsys)[0] == 0
    code, out, _ = run(["keys", "list", "--file", "keys.json"], capsys)
    assert code == 0
    assert f"{first}  ES256" in out and "retired" in out and "signs and verifies" in out

    code, out, _ = run(["keys", "rotate", "--file", "keys.json", "--overlap", "2m"], capsys)
    assert code == 0 and f"dropped key {first}" in out
    data = json.loads((tmp_path / "keys.json").read_text())
    assert first not in {k["kid"] for k in data["keys"]}
    assert [RETIRES in k for k in data["keys"]] == [True, False]


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (["keys", "rotate", "--file", "missing.json"], "", 1, "cannot read the key set"),
        (["keys", "list", "--file", "missing.json"], "", 1, "cannot read the key set"),
        (
            ["keys", "rotate", "--file", "keys.json", "--overlap", "soon"],
            "",
            2,
            "expected a duration",
        ),
        (["keys", "rotate", "--file", "keys.json"], "JWT_EXPIRES_IN=forever\n", 2, "overlap"),
        (["keys", "rotate", "--file", "keys.json"], "AUTHKIT_JWT_LEEWAY=-3\n", 2, "LEEWAY"),
        (["keys", "rotate", "--file", "keys.json"], "AUTHKIT_JWT_KEYZ=x\n", 2, "did you mean"),
    ],
)
def test_errors_are_one_line_and_non_zero(
    args: list[str],
    env: str,
    code: int,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run(["keys", "generate", "--file", "keys.json"], capsys)
    (tmp_path / ".env").write_text(env)
    got, out, err = run(args, capsys)
    assert got == code
    assert out == ""
    assert err.startswith("authkit: ") and message in err and err.count("\n") == 1


def test_a_broken_file_is_named_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keys.json").write_text('{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}')
    code, _, err = run(["keys", "rotate", "--file", "keys.json"], capsys)
    assert code == 1 and "keys.json: key 0: alg must be one of RS256, ES256, EdDSA" in err
    assert "c2VjcmV0" in (tmp_path / "keys.json").read_text()


def test_keys_help_and_check_show_the_key_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["keys", "--help"])
    assert exited.value.code == 0
    assert "generate" in capsys.readouterr().out

    run(["keys", "generate", "--alg", "RS256", "--file", "keys.json"], capsys)
    kid = SigningKeys.read(tmp_path / "keys.json").signing_key(time.time()).kid
    (tmp_path / ".env").write_text(
        "AUTHKIT_JWT_KEYS=keys.json\nAUTHKIT_REVOCATION_CHECKS=on\n"
        "AUTHKIT_SESSION_MAX_AGE=off\nAUTHKIT_SIGNIN_LIMIT_ADDRESS=off\n"
    )
    code, out, err = run(["check"], capsys)
    assert code == 0, err
    assert "  AUTHKIT_JWT_KEYS=keys.json\n" in out
    assert "  JWT_SECRET=(unset)\n" in out
    assert "  AUTHKIT_REVOCATION_CHECKS=true\n" in out
    assert "  AUTHKIT_REFRESH_TTL=14d\n" in out
    assert "  AUTHKIT_SESSION_MAX_AGE=off\n" in out
    assert "  AUTHKIT_SIGNIN_LIMIT_ADDRESS=off\n" in out
    assert "  AUTHKIT_SIGNIN_LIMIT_ACCOUNT=10/15m\n" in out
    assert f"signing: RS256 key {kid} from keys.json (1 key(s) in the set)" in out

    (tmp_path / "keys.json").write_text("{}")
    code, _, err = run(["check"], capsys)
    assert code == 2 and err.startswith("authkit: AUTHKIT_JWT_KEYS: keys.json:")


def test_a_leak_rotation_right_after_a_routine_one_names_the_key_it_added(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The routine rotation's key starts signing in a few seconds: later than the key a
    # `--overlap 0` rotation adds now, which retires it at once.
    run(["keys", "generate", "--file", "keys.json"], capsys)
    run(["keys", "rotate", "--file", "keys.json", "--overlap", "1h"], capsys)
    pending = SigningKeys.read(tmp_path / "keys.json").keys[-1]
    code, out, err = run(["keys", "rotate", "--file", "keys.json", "--overlap", "0"], capsys)
    assert code == 0, err
    keys = SigningKeys.read(tmp_path / "keys.json")
    added = keys.signing_key(time.time())
    assert added.kid != pending.kid
    assert f"signing key {added.kid}" in out and f"signing key {pending.kid}" not in out
    assert f"key {pending.kid} retired now" in out
    _, listed, _ = run(["keys", "list", "--file", "keys.json"], capsys)
    (line,) = [row for row in listed.splitlines() if row.startswith(pending.kid)]
    assert "retired" in line and "signs from" not in line
