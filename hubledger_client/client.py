"""The HubLedger client library: build, sign and submit transactions, wait for commits, read the chain.

``Client`` is async (aiohttp); ``SyncClient`` wraps it for scripts that are not.
Hubs serve their API over TLS with certificates of the network's own CA; the
client checks them against the CA that ``tls.find_ca_file`` finds (HUBLEDGER_CA,
or .localnet/tls/ca.crt), or against ``ssl_context`` when one is given
(``tls.make_client_context(ca_file, certificate_file=..., key_file=...)``).

    async with Client("https://127.0.0.1:8101") as client:
        key = PrivateKey.load(Path("accounts/bank-beijing.pem"))
        receipt = await client.call(key, "cbdc", "transfer", {"to": address, "amount": 100}, wait=True)
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any

import aiohttp

from hubledger_client.tls import make_default_context
from ledger.keys import PrivateKey
from ledger.read_auth import sign_read
from ledger.transaction import Transaction

WAIT_TIMEOUT_MS_DEFAULT = 30_000
RECONNECT_DELAY_MAX_S = 5.0
BUSY_RETRIES = 5  # pauses of 0.1, 0.2, 0.4, 0.8 and 1.6 s
BUSY_DELAY_FIRST_S = 0.1
BUSY_DELAY_MAX_S = 1.6


def get_busy_delay_s(attempt: int) -> float:
    """The pause before offering a transaction refused BUSY again, after ``attempt`` earlier
    refusals: it doubles, so that clients back off from an overloaded node together."""
    return min(BUSY_DELAY_MAX_S, BUSY_DELAY_FIRST_S * 2.0 ** min(attempt, 16))


class ClientError(Exception):
    """Raised when the node answers with an error; carries its stable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class Client:
    def __init__(
        self, base_url: str, *, timeout_ms: int = 10_000, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._ssl_context = ssl_context
        self._timeout = aiohttp.ClientTimeout(total=timeout_ms / 1000)
        self._session: aiohttp.ClientSession | None = None
        self._chain_id: str | None = None

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self, method: str, path: str, body: Any = None, *, signer: PrivateKey | None = None
    ) -> Any:
        """One API call; a ``signer`` signs the read so private account data is served."""
        if self._session is None:
            self._session = self._open_session(self._timeout)
        headers = {}
        if signer is not None:
            chain_id = await self.get_chain_id()
            timestamp_ms = time.time_ns() // 1_000_000
            headers = sign_read(
                signer, chain_id=chain_id, method=method, path=path, timestamp_ms=timestamp_ms
            )
        url = self.base_url + path
        async with self._session.request(method, url, json=body, headers=headers) as response:
            document = await response.json(content_type=None)
            if response.status >= 400:
                error = (document or {}).get("error", {})
                raise ClientError(response.status, error.get("code", "HTTP_ERROR"), error.get("message", ""))
            return document

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self._ssl_context

    def _open_session(self, timeout: aiohttp.ClientTimeout | None) -> aiohttp.ClientSession:
        if self._ssl_context is None and self.base_url.startswith("https:"):
            self._ssl_context = make_default_context()
        connector = aiohttp.TCPConnector(ssl=self._ssl_context or True)
        if timeout is None:
            return aiohttp.ClientSession(connector=connector)
        return aiohttp.ClientSession(connector=connector, timeout=timeout)

    async def get_status(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", "/v1/status")
        return result

    async def get_chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = (await self.get_status())["chain_id"]
        return self._chain_id

    async def get_account(self, address: str, *, signer: PrivateKey) -> dict[str, Any]:
        """Account details, signed as ``signer`` (the account, its bank, the central bank or a regulator)."""
        result: dict[str, Any] = await self.request("GET", f"/v1/accounts/{address}", signer=signer)
        return result

    async def list_dvps(self, address: str, *, signer: PrivateKey) -> list[dict[str, Any]]:
        result = await self.request("GET", f"/v1/accounts/{address}/dvps", signer=signer)
        return list(result["dvps"])

    async def list_escrows(self, address: str, *, signer: PrivateKey) -> list[dict[str, Any]]:
        result = await self.request("GET", f"/v1/accounts/{address}/escrows", signer=signer)
        return list(result["escrows"])

    async def get_security(self, security_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", f"/v1/securities/{security_id}")
        return result

    async def get_supply(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", "/v1/supply")
        return result

    async def get_block(self, height: int | str = "latest") -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", f"/v1/blocks/{height}")
        return result

    async def get_transaction(self, transaction_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", f"/v1/transactions/{transaction_id}")
        return result

    async def get_proof(self, transaction_id: str) -> dict[str, Any]:
        """The finality proof of a committed transaction (check it with proof.verify_proof)."""
        result: dict[str, Any] = await self.request("GET", f"/v1/transactions/{transaction_id}/proof")
        return result

    async def follow_events(
        self, *, from_height: int | None = None, account: str | None = None, reconnect: bool = True
    ) -> AsyncIterator[dict[str, Any]]:
        """Committed blocks and receipts as they happen (GET /v1/events), oldest first.

        From ``from_height`` (default: the next block), only receipts involving
        ``account`` if given. Each height's receipts come before its ``block``
        event. A dropped connection is reopened from where it stopped, so no
        event is missed or repeated; ``reconnect=False`` ends the iteration instead.

            async for event in client.follow_events(account=address):
                if event["type"] == "receipt":
                    print(event["id"], event["receipt"]["success"])
        """
        next_height = from_height or int((await self.get_status())["height"]) + 1
        seen: set[int] = set()  # receipts of next_height already yielded
        delay_s = 0.1
        async with self._open_session(None) as session:  # no total timeout: the stream is long-lived
            while True:
                params = {"from_height": str(next_height), **({"account": account} if account else {})}
                try:
                    url = f"{self.base_url}/v1/events"
                    async with session.ws_connect(url, params=params, heartbeat=30) as ws:
                        delay_s = 0.1
                        async for message in ws:
                            if message.type is not aiohttp.WSMsgType.TEXT:
                                break
                            event = json.loads(message.data)
                            if event["type"] == "block":
                                next_height, seen = int(event["height"]) + 1, set()
                            elif event["index"] in seen:
                                continue
                            else:
                                seen.add(int(event["index"]))
                            yield event
                except (aiohttp.ClientError, OSError):
                    if not reconnect:
                        raise
                if not reconnect:
                    return
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, RECONNECT_DELAY_MAX_S)

    async def get_next_nonce(self, key: PrivateKey) -> int:
        account = await self.get_account(key.public_key.address.hex(), signer=key)
        return int(account.get("pending_nonce", account["nonce"]))

    async def build(
        self,
        key: PrivateKey,
        contract: str,
        method: str,
        args: Mapping[str, Any],
        *,
        nonce: int | None = None,
    ) -> Transaction:
        return Transaction.create(
            key,
            chain_id=await self.get_chain_id(),
            nonce=await self.get_next_nonce(key) if nonce is None else nonce,
            contract=contract,
            method=method,
            args=args,
        )

    async def submit(self, transaction: Transaction, *, busy_retries: int = BUSY_RETRIES) -> str:
        """Submit one transaction and return its id. A node that answers 503 BUSY kept
        nothing, so the same transaction is offered again after a growing pause, at most
        ``busy_retries`` times, before the BUSY error is raised."""
        for attempt in range(busy_retries):
            try:
                return await self._submit_once(transaction)
            except ClientError as error:
                if error.code != "BUSY":
                    raise
            await asyncio.sleep(get_busy_delay_s(attempt))
        return await self._submit_once(transaction)

    async def _submit_once(self, transaction: Transaction) -> str:
        result = await self.request("POST", "/v1/transactions", transaction.to_json())
        return str(result["id"])

    async def submit_batch(self, transactions: list[Transaction]) -> list[dict[str, Any]]:
        body = {"transactions": [transaction.to_json() for transaction in transactions]}
        result = await self.request("POST", "/v1/transactions/batch", body)
        return list(result["results"])

    async def wait(self, transaction_id: str, *, timeout_ms: int = WAIT_TIMEOUT_MS_DEFAULT) -> dict[str, Any]:
        """Poll until the transaction is committed or rejected; raises TimeoutError at the deadline."""
        deadline = time.monotonic() + timeout_ms / 1000
        delay = 0.02
        while True:
            try:
                record = await self.get_transaction(transaction_id)
            except ClientError as error:
                if error.code != "NOT_FOUND":
                    raise
                record = {"status": "unknown"}
            if record["status"] in ("committed", "rejected"):
                return record
            if time.monotonic() > deadline:
                raise TimeoutError(f"transaction {transaction_id} not committed within {timeout_ms} ms")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def call(
        self,
        key: PrivateKey,
        contract: str,
        method: str,
        args: Mapping[str, Any],
        *,
        wait: bool = True,
        nonce: int | None = None,
    ) -> dict[str, Any]:
        """Build, sign and submit one contract call; with ``wait`` return its committed record."""
        transaction = await self.build(key, contract, method, args, nonce=nonce)
        transaction_id = await self.submit(transaction)
        if not wait:
            return {"id": transaction_id, "status": "pending"}
        return await self.wait(transaction_id)


class SyncClient:
    """A blocking wrapper of Client for scripts; one event loop per instance."""

    def __init__(
        self, base_url: str, *, timeout_ms: int = 10_000, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = Client(base_url, timeout_ms=timeout_ms, ssl_context=ssl_context)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run_until_complete(method(*args, **kwargs))

        return call

    def close(self) -> None:
        self._loop.run_until_complete(self._client.close())
        self._loop.close()
