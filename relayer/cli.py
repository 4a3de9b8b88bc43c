"""`infera-relayer`: run the relayer, migrate its database, create API keys.

Exit codes: 0 done; 2 a usage or settings error, printed as one line ``infera-relayer: ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from infera.errors import InferaError
from infera.logs import configure
from relayer.keys import new_key
from relayer.migrate import upgrade
from relayer.service import run
from relayer.settings import RelayerChainSettings, RelayerSettings
from relayer.store import Store


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infera-relayer", description="Infera relayer: an HTTP API that queues, "
                                     "batches and tracks jobs. Settings: INFERA_RELAYER_* and INFERA_* variables.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="serve the API and submit and track jobs")
    sub.add_parser("migrate", help="bring the database to the newest schema (run also does this)")
    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create a key; it is printed once and stored only hashed")
    create.add_argument("--name", required=True)
    create.add_argument("--quota", type=int, default=None, help="most jobs the key may ever submit")
    create.add_argument("--rate", type=int, default=None, help="most API requests a minute")
    return parser


async def _create_key(settings: RelayerSettings, name: str, quota: int, rate: int) -> str:
    await asyncio.to_thread(upgrade, settings.database_url)
    store = Store.open(settings.database_url)
    try:
        key = new_key()
        await store.add_key(key, name, quota, rate)
        return key.plaintext
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = RelayerSettings()
        configure(settings.log_level, settings.log_json)
        if args.command == "run":
            asyncio.run(run(settings, RelayerChainSettings()))
        elif args.command == "migrate":
            upgrade(settings.database_url)
        else:
            quota = settings.default_quota_jobs if args.quota is None else args.quota
            rate = settings.default_rate_per_minute if args.rate is None else args.rate
            if quota < 0 or rate < 1:
                raise ValueError("--quota must be 0 or more and --rate 1 or more")
            print(asyncio.run(_create_key(settings, args.name, quota, rate)))
    except ValidationError as exc:
        # Checked before ValueError, its base: one line naming each bad setting.
        wrong = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False))
        print(f"infera-relayer: invalid setting: {wrong}", file=sys.stderr)
        sys.exit(2)
    except (InferaError, ValueError) as exc:
        print(f"infera-relayer: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
