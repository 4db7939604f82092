"""authkit.storage.datadir without a database: the serve record (atomic, 0600, stale when
its pid is gone), the exclusive lock, and what `embedded_database` does when another
process holds the lock. With real processes: tests/e2e/test_serve_and_commands.py."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import authkit.storage.datadir as datadir
from authkit.cli.main import main
from authkit.settings.loader import ENV_VARS
from authkit.storage.datadir import (
    DataDirBusy,
    DataDirLock,
    ServeRecord,
    embedded_database,
    live_record,
    record_path,
)
from authkit.storage.embedded import make_private_dir

URI = "mongodb://127.0.0.1:1/authkit"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / ".authkit" / "db"
    path.mkdir(parents=True)
    return path


def dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                           capture_output=True, text=True)  # fmt: skip
    return int(child.stdout)


def test_the_record_lies_next_to_the_data_dir_written_whole_and_private(data_dir: Path) -> None:
    path = record_path(data_dir)
    assert path == data_dir.parent / "db.serve.json"
    ServeRecord(URI, 1234, str(data_dir)).write(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"uri": URI, "pid": 1234, "data_dir": str(data_dir)}
    assert sorted(p.name for p in data_dir.parent.iterdir()) == ["db", "db.serve.json"]
    assert ServeRecord.read(path) == ServeRecord(URI, 1234, str(data_dir))


@pytest.mark.parametrize(
    "text", ["", "{", "[]", '{"uri": "x"}', '{"uri": 1, "pid": 2, "data_dir": 3}']
)
def test_a_torn_or_foreign_record_is_no_record(data_dir: Path, text: str) -> None:
    record_path(data_dir).write_text(text)
    assert ServeRecord.read(record_path(data_dir)) is None
    assert live_record(data_dir) is None


def test_a_record_whose_serve_is_gone_is_stale(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datadir, "_answers", lambda uri: True)  # even if something answers
    ServeRecord(URI, dead_pid(), str(data_dir)).write(record_path(data_dir))
    assert live_record(data_dir) is None

    ServeRecord(URI, os.getpid(), str(data_dir)).write(record_path(data_dir))
    assert live_record(data_dir) == ServeRecord(URI, os.getpid(), str(data_dir))


def test_a_record_for_another_data_dir_or_a_database_that_does_not_answer_is_not_live(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datadir, "_answers", lambda uri: True)
    ServeRecord(URI, os.getpid(), str(tmp_path / "elsewhere")).write(record_path(data_dir))
    assert live_record(data_dir) is None

    monkeypatch.setattr(datadir, "_answers", lambda uri: False)
    ServeRecord(URI, os.getpid(), str(data_dir)).write(record_path(data_dir))
    assert live_record(data_dir) is None


def test_the_lock_is_exclusive_and_says_who_holds_it(data_dir: Path) -> None:
    first, second = DataDirLock(data_dir), DataDirLock(data_dir)
    assert first.try_acquire()
    try:
        assert not second.try_acquire()
        assert second.holder() == str(os.getpid())
        assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    finally:
        first.release()
    assert second.try_acquire()
    second.release()


def refusal(data_dir: Path, wait: float, note: str | None = None) -> str:
    """What `embedded_database` says when the lock on `data_dir` is held by this process
    (whose note, when given, says who holds it) and no record is published."""
    holder = DataDirLock(data_dir)
    assert holder.try_acquire()
    if note is not None:
        holder.note(note)
    try:
        with pytest.raises(DataDirBusy) as refused:  # noqa: SIM117 - the block must not run
            with embedded_database(data_dir, log_file=data_dir.parent / "x.log", wait=wait):
                pytest.fail("got a database over a data dir someone else holds")
    finally:
        holder.release()
    return str(refused.value)


def test_a_held_lock_without_a_live_record_fails_in_bounded_time(data_dir: Path) -> None:
    message = refusal(data_dir, 0.3)
    assert str(data_dir) in message and "MONGO_URI" in message
    assert f"held by pid {os.getpid()}" in message
    assert "\n" not in message


def test_the_database_of_a_killed_serve_is_waited_for_while_it_stops(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lock as a killed serve leaves it: its starter gone, its database (here: this
    # process, which is running) still holding it while it shuts down.
    monkeypatch.setattr(datadir, "STOPPING_WAIT", 0.2)
    message = refusal(data_dir, 0.1, f"{dead_pid()} (embedded database: pid {os.getpid()})")
    assert f"(pid {os.getpid()}) outlived the process that started it" in message


def test_a_lock_whose_starter_still_runs_gets_no_longer_wait(data_dir: Path) -> None:
    message = refusal(data_dir, 0.1, f"{os.getpid()} (embedded database: pid {os.getpid()})")
    assert "has not published it" in message


def test_a_held_lock_with_a_live_record_shares_serves_database(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datadir, "_answers", lambda uri: True)
    holder = DataDirLock(data_dir)
    assert holder.try_acquire()
    ServeRecord(URI, os.getpid(), str(data_dir)).write(record_path(data_dir))
    try:
        with embedded_database(data_dir, log_file=data_dir.parent / "x.log") as database:
            assert (database.uri, database.served_by) == (URI, os.getpid())
        # A second serve over the same data is refused at once, naming the first.
        with pytest.raises(DataDirBusy, match=f"pid {os.getpid()}"):  # noqa: SIM117
            with embedded_database(data_dir, log_file=data_dir.parent / "x.log", publish=True):
                pytest.fail("a second serve got the data dir")
    finally:
        holder.release()
    assert record_path(data_dir).exists()  # the commands never remove serve's record
    assert not (data_dir.parent / "x.log").exists()  # nor start a database that would log


def test_the_cli_says_in_one_line_that_the_data_dir_is_taken(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in [*ENV_VARS, *(k for k in os.environ if k.startswith("AUTHKIT_"))]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JWT_SECRET", "unit-test-secret-0123456789abcdef0123456789")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datadir, "DEFAULT_WAIT", 0.3)
    holder = DataDirLock(data_dir)  # something that holds the lock and publishes nothing
    assert holder.try_acquire()
    try:
        code = main(["delete-user", "someone"])
    finally:
        holder.release()
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("authkit: the embedded database's data in ") and err.count("\n") == 1
    assert os.listdir(data_dir) == ["authkit.lock"]  # no second database was started


def test_the_data_dir_is_made_private_and_an_older_readable_one_is_tightened(
    tmp_path: Path,
) -> None:
    fresh = tmp_path / "project" / ".authkit" / "db"
    make_private_dir(fresh)
    for made in (fresh, fresh.parent, fresh.parent.parent):
        assert stat.S_IMODE(made.stat().st_mode) == 0o700, made

    older = tmp_path / "older" / "db"  # as an earlier authkit left it: 0755, files 0644
    older.mkdir(parents=True)
    for folder in (older, older.parent):
        folder.chmod(0o755)
    (older / "collection.wt").write_bytes(b"hashes")
    make_private_dir(older)
    assert stat.S_IMODE(older.stat().st_mode) == 0o700  # its files are out of others' reach
    assert stat.S_IMODE(older.parent.stat().st_mode) == 0o755  # not ours to decide
