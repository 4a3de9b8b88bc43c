"""Where an agent's perceptions come from (providers, in ElizaOS's terms): chain events, an HTTP
feed, a file. Each keeps a cursor the agent persists after every step, so a restarted agent
resumes where it stopped; the agent also remembers every perception key it handled, so a
perceiver that repeats itself (a feed, a re-read block) costs nothing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import structlog
from web3.contract import AsyncContract
from web3.types import EventData

from infera.chain import Chain

log = structlog.get_logger("infera.agents")


@dataclass(frozen=True)
class Perception:
    """One thing the agent noticed. `key` is unique within `source`; `subject` names what it is
    about (a headline, a loan), so that a later outcome about the same subject finds the decision.
    `text` is set when it is to be embedded; `truth` when it is an outcome (what the subject was)."""

    source: str
    key: str
    subject: str
    text: str | None = None
    truth: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Perceiver(Protocol):
    name: str

    async def perceive(self) -> list[Perception]: ...

    def cursor(self) -> dict[str, Any]: ...

    def restore(self, cursor: dict[str, Any]) -> None: ...


EventMapper = Callable[[str, EventData], Perception | None]


class ChainEventPerceiver:
    """New events of a contract, block range by block range, oldest first. `mapper(event name,
    log)` turns a log into a perception (or None to ignore it). `confirmations` blocks are left
    unread at the head, for chains that reorg."""

    def __init__(self, name: str, chain: Chain, contract: AsyncContract, events: list[str],
                 mapper: EventMapper, from_block: int = 0, confirmations: int = 0) -> None:
        self.name = name
        self.chain = chain
        self.contract = contract
        self.events = events
        self.mapper = mapper
        self.next_block = from_block
        self.confirmations = confirmations

    async def perceive(self) -> list[Perception]:
        head = await self.chain.block_number() - self.confirmations
        if head < self.next_block:
            return []
        found: list[EventData] = []
        for event in self.events:
            found.extend(await self.chain.logs(self.contract, event, self.next_block, head))
        found.sort(key=lambda e: (int(e["blockNumber"]), int(e["logIndex"])))
        self.next_block = head + 1
        out = []
        for entry in found:
            perception = self.mapper(str(entry["event"]), entry)
            if perception is not None:
                out.append(perception)
        return out

    def cursor(self) -> dict[str, Any]:
        return {"next_block": self.next_block}

    def restore(self, cursor: dict[str, Any]) -> None:
        self.next_block = max(self.next_block, int(cursor.get("next_block", 0)))


ItemMapper = Callable[[dict[str, Any]], Perception | None]


class HttpFeedPerceiver:
    """A JSON feed polled over HTTP: a list of objects (or {"items": [...]}), each mapped to a
    perception. A feed that fails (down, 5xx, not JSON) gives nothing this time and is retried
    on the next step: one bad poll never stops the agent."""

    def __init__(self, name: str, url: str, mapper: ItemMapper, timeout: float = 10.0) -> None:
        self.name = name
        self.url = url
        self.mapper = mapper
        self.timeout = timeout
        self.failures = 0

    async def perceive(self) -> list[Perception]:
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http:
                async with http.get(self.url) as response:
                    response.raise_for_status()
                    body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self.failures += 1
            log.warning("feed unavailable", perceiver=self.name, url=self.url, error=f"{type(exc).__name__}: {exc}")
            return []
        items = body.get("items", []) if isinstance(body, dict) else body
        if not isinstance(items, list):
            log.warning("feed is not a list", perceiver=self.name, url=self.url)
            return []
        out = []
        for item in items:
            perception = self.mapper(item) if isinstance(item, dict) else None
            if perception is not None:
                out.append(perception)
        return out

    def cursor(self) -> dict[str, Any]:
        return {}

    def restore(self, cursor: dict[str, Any]) -> None:
        return None


LineMapper = Callable[[int, str], Perception | None]


class FilePerceiver:
    """Complete new lines of a text file (one appended to, like a log), each mapped by
    `mapper(line number, line)`. The cursor is the byte offset after the last whole line read;
    a file that shrank (rotated, rewritten) is read again from the start."""

    def __init__(self, name: str, path: Path, mapper: LineMapper) -> None:
        self.name = name
        self.path = path
        self.mapper = mapper
        self.offset = 0
        self.line = 0

    async def perceive(self) -> list[Perception]:
        try:
            data = await asyncio.to_thread(self.path.read_bytes)
        except FileNotFoundError:
            return []
        if len(data) < self.offset:
            self.offset, self.line = 0, 0
        chunk = data[self.offset:]
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        out = []
        for raw in chunk[: end + 1].splitlines():
            self.line += 1
            text = raw.decode("utf-8", errors="replace").strip()
            if text and not text.startswith("#"):
                perception = self.mapper(self.line, text)
                if perception is not None:
                    out.append(perception)
        self.offset += end + 1
        return out

    def cursor(self) -> dict[str, Any]:
        return {"offset": self.offset, "line": self.line}

    def restore(self, cursor: dict[str, Any]) -> None:
        self.offset = int(cursor.get("offset", 0))
        self.line = int(cursor.get("line", 0))
