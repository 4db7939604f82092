"""Where a signin's CPU goes besides bcrypt: signins called in-process against a real
MongoDB-protocol server (SecantusDB in memory), CPU time of all threads per signin, beside
what `checkpw` and each kind of pymongo call cost on their own.

    python bench/signin_cpu.py                # 300 signins, bcrypt cost 4
    python bench/signin_cpu.py --signins 1000

Cost 4 keeps bcrypt small so the rest shows; the server's own share (the database process)
is not counted. Other settings are as shipped (sign-in limits and refresh tokens on) unless
the environment says otherwise, e.g. AUTHKIT_SIGNIN_LIMIT_ACCOUNT=off
AUTHKIT_SIGNIN_LIMIT_ADDRESS=off, or AUTHKIT_REFRESH_TOKENS=off. Figures are CPU time, so
they move with the machine's load: compare runs taken minutes apart, not across days.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import bcrypt
import pymongo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

ROUNDS = 4
BODY = json.dumps({"username": "cpuprobe", "password": "CpuProbe123"}).encode()


def cpu_ms(calls: int, run: Any) -> float:
    started = time.process_time()
    for i in range(calls):
        run(i)
    return (time.process_time() - started) / calls * 1000


async def post(app: Any, path: str) -> int:
    from profile_app import request_scope

    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]
    scope = {**request_scope(path, headers), "method": "POST"}
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def signins(uri: str, count: int) -> float:
    from profile_app import log_to_a_file

    from app import create_app
    from config import load_settings

    os.environ.update(
        JWT_SECRET="p" * 48,
        BCRYPT_ROUNDS=str(ROUNDS),
        MONGO_URI=uri,
    )
    settings = load_settings(env_file=None)
    handler = log_to_a_file()  # as shipped: an access line per request, to a file
    per_signin = await _timed_signins(create_app(settings), count)
    handler.flush()  # the last lines, still waiting for their event-loop turn to end
    return per_signin


async def _timed_signins(app: Any, count: int) -> float:
    async with app.router.lifespan_context(app):
        if await post(app, "/auth/signup") != 201:
            raise SystemExit("signup failed")
        for _ in range(20):  # warm: connection pool, worker threads, caches
            await post(app, "/auth/signin")
        started = time.process_time()
        for _ in range(count):
            if await post(app, "/auth/signin") != 201:
                raise SystemExit("signin failed")
        return (time.process_time() - started) / count * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signins", type=int, default=300)
    args = parser.parse_args()
    from authkit.embedded import EmbeddedMongo

    with EmbeddedMongo(None, database="signincpu") as database:
        per_signin = asyncio.run(signins(database.uri, args.signins))
        collection = pymongo.MongoClient(database.uri).get_default_database()["probe"]
        collection.insert_one({"n": -1})
        insert = cpu_ms(args.signins, lambda i: collection.insert_one({"n": i, "pad": "x" * 100}))
        find = cpu_ms(args.signins, lambda i: collection.find_one({"n": i}))
    hashed = bcrypt.hashpw(b"CpuProbe123", bcrypt.gensalt(ROUNDS))
    check = cpu_ms(args.signins, lambda _: bcrypt.checkpw(b"CpuProbe123", hashed))
    print(f"signin, all threads:        {per_signin:6.2f} ms CPU (bcrypt cost {ROUNDS})")
    print(f"  checkpw alone:            {check:6.2f} ms")
    print(
        f"  pymongo insert_one alone: {insert:6.2f} ms   (a signin inserts a session and a token)"
    )
    print(f"  pymongo find_one alone:   {find:6.2f} ms   (the user; the sign-in limits)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
