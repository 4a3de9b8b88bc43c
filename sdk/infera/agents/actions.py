"""What an agent can do: a contract call (signed by its own key through the SDK's Chain), an SDK
submission of more inference jobs, or an HTTP POST. Each says what it will do before it runs
and returns what it did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from web3.contract.async_contract import AsyncContractFunction

from infera.chain import Chain
from infera.client import InferaClient


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    detail: str


class Action(Protocol):
    @property
    def description(self) -> str: ...

    async def run(self) -> ActionResult: ...


@dataclass(frozen=True)
class ContractCall:
    """Send one contract function from the agent's key (simulated first: a revert is refused
    before any gas is spent, and reported as a failed action)."""

    chain: Chain
    function: AsyncContractFunction
    description: str

    async def run(self) -> ActionResult:
        receipt = await self.chain.transact(self.function)
        return ActionResult(True, f"tx 0x{bytes(receipt['transactionHash']).hex()} in block {receipt['blockNumber']}")


@dataclass(frozen=True)
class SdkSubmit:
    """Submit more texts as inference jobs (paid by the agent's key; count it in the budget)."""

    client: InferaClient
    texts: tuple[str, ...]
    description: str
    model: str = "all-MiniLM-L6-v2"

    async def run(self) -> ActionResult:
        ids = await self.client.submit_texts(list(self.texts), model=self.model)
        return ActionResult(True, f"jobs {', '.join(map(str, ids))}")


@dataclass(frozen=True)
class HttpPost:
    """POST a JSON body (a webhook, an alerting endpoint)."""

    url: str
    body: dict[str, Any]
    description: str
    timeout: float = 10.0

    async def run(self) -> ActionResult:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http:
            async with http.post(self.url, json=self.body) as response:
                text = await response.text()
                return ActionResult(response.status < 400, f"HTTP {response.status} {text[:200]}")
