"""One writer per key: a lock file per signing address in the process's state directory.

Shared by the node and the relayer (each signs with its own key). `oracle-node run` holds its key's lock for its whole life, and every command that sends
transactions (register, add-stake, update-service, unstake, withdraw, reinstate, claim) holds it
while it runs. Two processes signing with one key would pick the same nonces and replace or
reject each other's transactions, so the second one is refused at once instead. The lock is an
OS file lock (flock), so a process that dies, however it dies, releases it. `infera-relayer run`
holds its key's lock the same way.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from infera.errors import ConfigError, InferaError


class KeyInUse(InferaError):
    """Another process (an oracle-node, or a relayer) holds the lock of this signing key."""


class KeyLock:
    """The lock of one signing address; ``with KeyLock(...)`` or acquire() / release()."""

    def __init__(self, state_dir: Path, address: str, command: str, program: str = "oracle-node") -> None:
        self.address = address
        self.command = command
        self.program = program  # in the refusal's words: who holds the key
        self.path = state_dir / f"{address.lower()}.lock"
        self.owner_path = state_dir / f"{address.lower()}.owner.json"
        self._lock = FileLock(self.path, timeout=0)

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def acquire(self) -> None:
        """Take the lock now or raise KeyInUse, saying who holds it and what to do."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except Timeout:
            raise KeyInUse(self._refusal()) from None
        except OSError as exc:
            raise ConfigError(
                f"cannot lock {self.path} ({exc.strerror or exc}): set INFERA_STATE_DIR to a folder this user can write"
            ) from None
        try:
            self.owner_path.write_text(json.dumps({"pid": os.getpid(), "command": self.command}))
        except OSError:
            pass  # who holds the lock is only a hint for the message of a refused process

    def release(self) -> None:
        if not self._lock.is_locked:
            return
        try:
            self.owner_path.unlink(missing_ok=True)
        except OSError:
            pass
        self._lock.release()

    def __enter__(self) -> KeyLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def _refusal(self) -> str:
        owner = self._owner()
        held_by = f" (held by pid {owner[0]}: {self.program} {owner[1]})" if owner else ""
        head = f"another {self.program} process is already running with key {self.address}"
        if self.command == "run" or self.program != "oracle-node":
            return f"{head}; stop it first{held_by}"
        return (
            f"{head}; stop it first{held_by}: the running node must be stopped before `oracle-node {self.command}`, "
            "since both would send transactions from the same account with the same nonces"
        )

    def _owner(self) -> tuple[int, str] | None:
        try:
            found = json.loads(self.owner_path.read_text())
            return int(found["pid"]), str(found["command"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
