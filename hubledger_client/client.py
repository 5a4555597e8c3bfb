"""The HubLedger client library: build, sign and submit transactions, wait for commits, read the chain.

``Client`` is async (aiohttp); ``SyncClient`` wraps it for scripts that are not.
A client may be given several hubs: a hub that cannot serve a request now is
passed over for the next (hubledger_client/failover.py). After a transaction of
its own is seen committed at a height, its reads ask for at least that height
(``min_height``), so a hub that is behind answers BEHIND and the next one is
asked, instead of an answer from before the client's own write.

Hubs serve their API over TLS with certificates of the network's own CA; the
client checks them against the CA that ``tls.find_ca_file`` finds (HUBLEDGER_CA,
or .localnet/tls/ca.crt), or against ``ssl_context`` when one is given
(``tls.make_client_context(ca_file, certificate_file=..., key_file=...)``).

    async with Client(["https://127.0.0.1:8101", "https://127.0.0.1:8102"]) as client:
        key = PrivateKey.load(Path("accounts/bank-beijing.pem"))
        receipt = await client.call(key, "cbdc", "transfer", {"to": address, "amount": 100}, wait=True)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from types import TracebackType
from typing import Any

import aiohttp

from hubledger_client.errors import (
    ClientError,
    NodeUnreachable,
    describe_connection_error,
)
from hubledger_client.failover import REFUSALS_TO_RETRY, HubRing, get_retry_delay_s, parse_hub_urls
from hubledger_client.pending import TransactionPending
from hubledger_client.tls import make_default_context
from ledger.keys import PrivateKey
from ledger.read_auth import sign_read
from ledger.transaction import Transaction

WAIT_TIMEOUT_MS_DEFAULT = 30_000
RECONNECT_DELAY_MAX_S = 5.0
BUSY_RETRIES = 5  # rounds after the first: pauses of 0.1, 0.2, 0.4, 0.8 and 1.6 s
RESUBMIT_INTERVAL_S = 1.0  # while waiting, how often the same bytes are offered to a hub that lost them
get_busy_delay_s = get_retry_delay_s  # the name earlier versions had


class Client:
    """``base_url``: one hub's URL, several separated by commas, or a list of them.
    ``read_your_writes``: reads ask for at least the height of the client's last commit.
    ``ssl_context``: how https hubs are checked; by default against the network CA that
    hubledger_client.tls finds."""

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        timeout_ms: int = 10_000,
        read_your_writes: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.hubs = HubRing(parse_hub_urls(base_url))
        self.base_url = self.hubs.urls[0]
        self._ssl_context = ssl_context
        self._timeout = aiohttp.ClientTimeout(total=timeout_ms / 1000)
        self._session: aiohttp.ClientSession | None = None
        self._chain_id: str | None = None
        self.read_your_writes = read_your_writes
        self.committed_height = 0  # the highest height a transaction of this client was seen committed at

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
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        signer: PrivateKey | None = None,
        rounds: int = BUSY_RETRIES + 1,
    ) -> Any:
        """One API call; a ``signer`` signs the read so private account data is served. Sent to
        the next hub while a hub cannot serve it (hubledger_client/failover.py), for at most
        ``rounds`` rounds; then the last refusal is raised, or NodeUnreachable (naming each
        hub's reason) when no hub answered at all."""
        if rounds < 1:
            raise ValueError("rounds must be at least 1")
        refusal: ClientError | None = None  # a hub's own word says more than a refused connection
        unreachable: list[NodeUnreachable] = []
        for attempt in range(rounds):
            if attempt:
                await asyncio.sleep(get_retry_delay_s(attempt - 1))
            unreachable = []
            for url in self.hubs.get_round():
                try:
                    document = await self._request_once(url, method, path, body, signer)
                except NodeUnreachable as error:
                    unreachable.append(error)
                except ClientError as error:
                    if error.code not in REFUSALS_TO_RETRY:
                        raise
                    refusal = error
                else:
                    self.hubs.settle(url)
                    return document
            if refusal is None:
                break  # no hub answered at all: waiting would not change that
        raise refusal or NodeUnreachable.of_every(unreachable)

    async def _request_once(
        self, url: str, method: str, path: str, body: Any, signer: PrivateKey | None
    ) -> Any:
        if self._session is None:
            self._session = self._open_session(self._timeout)
        headers = {}
        if signer is not None:
            chain_id = await self.get_chain_id()
            timestamp_ms = time.time_ns() // 1_000_000
            headers = sign_read(
                signer, chain_id=chain_id, method=method, path=path, timestamp_ms=timestamp_ms
            )
        try:
            async with self._session.request(method, url + path, json=body, headers=headers) as response:
                status, content = response.status, await response.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            untrusted = isinstance(error, aiohttp.ClientConnectorCertificateError)
            code = "UNTRUSTED" if untrusted else "UNREACHABLE"
            raise NodeUnreachable.at(url, code, describe_connection_error(error)) from None
        try:
            document = json.loads(content)
        except (ValueError, RecursionError):
            raise NodeUnreachable.at(
                url,
                "NOT_AN_API",
                f"it answered HTTP {status} with something that is not JSON; "
                "is this a hub's client API port?",
            ) from None
        if status >= 400:
            refusal = document.get("error") if isinstance(document, dict) else None
            if not isinstance(refusal, dict):
                problem = f"it answered HTTP {status} without an error code"
                raise NodeUnreachable.at(url, "NOT_AN_API", problem)
            code, message = str(refusal.get("code", "HTTP_ERROR")), str(refusal.get("message", ""))
            raise ClientError(status, code, message, hub=url)
        return document

    async def read(self, path: str, *, signer: PrivateKey | None = None) -> Any:
        """GET a state read (it carries ``at_height``), asking for at least the height of this
        client's last commit when it reads its own writes (a hub below it answers BEHIND)."""
        return await self.request("GET", self._read_path(path), signer=signer)

    def _read_path(self, path: str) -> str:
        """``path`` asking for at least the client's last commit, when it reads its own writes."""
        if not self.read_your_writes or not self.committed_height:
            return path
        separator = "&" if "?" in path else "?"
        return f"{path}{separator}min_height={self.committed_height}"

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self._ssl_context

    def _open_session(self, timeout: aiohttp.ClientTimeout | None) -> aiohttp.ClientSession:
        if self._ssl_context is None and any(url.startswith("https:") for url in self.hubs.urls):
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
        result: dict[str, Any] = await self.read(f"/v1/accounts/{address}", signer=signer)
        return result

    async def get_account_proof(self, address: str, *, signer: PrivateKey, height: int | None = None) -> Any:
        """The account's state proof, for ``get_account``'s readers (check: state_proof.py)."""
        query = "" if height is None else f"?height={height}"
        return await self.read(f"/v1/accounts/{address}/proof{query}", signer=signer)

    async def list_dvps(self, address: str, *, signer: PrivateKey) -> list[dict[str, Any]]:
        result = await self.read(f"/v1/accounts/{address}/dvps", signer=signer)
        return list(result["dvps"])

    async def list_escrows(self, address: str, *, signer: PrivateKey) -> list[dict[str, Any]]:
        result = await self.read(f"/v1/accounts/{address}/escrows", signer=signer)
        return list(result["escrows"])

    async def get_security(self, security_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.read(f"/v1/securities/{security_id}")
        return result

    async def get_supply(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.read("/v1/supply")
        return result

    async def get_block(self, height: int | str = "latest") -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", f"/v1/blocks/{height}")
        return result

    async def get_transaction(self, transaction_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.read(f"/v1/transactions/{transaction_id}")
        return result

    async def get_proof(self, transaction_id: str) -> dict[str, Any]:
        """The finality proof of a committed transaction (check it with proof.verify_proof)."""
        result: dict[str, Any] = await self.request("GET", f"/v1/transactions/{transaction_id}/proof")
        return result

    async def follow_events(
        self, *, from_height: int | None = None, account: str | None = None, reconnect: bool = True
    ) -> AsyncGenerator[dict[str, Any], None]:
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
        """Submit one transaction and return its id. A hub that refuses it for now (BUSY,
        NO_QUORUM, BEHIND) or cannot be reached kept nothing, so the same signed bytes go to
        the next hub, in rounds ``busy_retries`` times repeated after a growing pause
        (hubledger_client/failover.py), before the last refusal is raised. Resubmitting is
        always safe: the id makes it idempotent."""
        body = transaction.to_json()
        result = await self.request("POST", "/v1/transactions", body, rounds=busy_retries + 1)
        return str(result["id"])

    async def submit_batch(self, transactions: list[Transaction]) -> list[dict[str, Any]]:
        body = {"transactions": [transaction.to_json() for transaction in transactions]}
        result = await self.request("POST", "/v1/transactions/batch", body)
        return list(result["results"])

    async def wait(
        self, transaction: str | Transaction, *, timeout_ms: int = WAIT_TIMEOUT_MS_DEFAULT
    ) -> dict[str, Any]:
        """Poll until the transaction is committed or rejected; raises TransactionPending (a
        TimeoutError) at the deadline: it may still commit. Given the Transaction itself, the
        same signed bytes are offered again to a hub that answers it does not know them (the
        hub that held it went down): the one safe retry."""
        transaction_id = transaction if isinstance(transaction, str) else transaction.id.hex()
        deadline = time.monotonic() + timeout_ms / 1000
        delay, resubmitted, status = 0.02, time.monotonic(), "pending"
        while True:
            record = await self._poll(transaction_id)
            status = str(record["status"]) if record else status
            if record and status == "committed":
                self.committed_height = max(self.committed_height, int(record["height"]))
                return record
            if record and status == "rejected":
                return record
            now = time.monotonic()
            if now > deadline:
                nonce = None if isinstance(transaction, str) else transaction.nonce
                raise TransactionPending(transaction_id, nonce, timeout_ms, status)
            if (
                isinstance(transaction, Transaction)
                and status == "unknown"
                and now - resubmitted >= RESUBMIT_INTERVAL_S
            ):
                resubmitted = now
                await self._resubmit(transaction)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def find_transaction(self, transaction_id: str) -> dict[str, Any]:
        """The transaction's record from the first hub that knows it (committed, pending or
        rejected); ``{"status": "unknown"}`` when every hub that answered does not. A hub
        knows a pending transaction only when it holds it, so one hub's "unknown" is not the
        network's. Raises the last error when no hub answered at all."""
        record = await self._poll(transaction_id)
        if record is None:
            return await self.get_transaction(transaction_id)  # raises what the hubs say
        return record

    async def _poll(self, transaction_id: str) -> dict[str, Any] | None:
        """Ask the hubs in turn for the transaction until one knows it; the "unknown" record
        when none does, or None when no hub could answer now."""
        path = self._read_path(f"/v1/transactions/{transaction_id}")
        unknown: dict[str, Any] | None = None
        for url in self.hubs.get_round():
            try:
                record: dict[str, Any] = await self._request_once(url, "GET", path, None, None)
            except NodeUnreachable:
                continue
            except ClientError as error:
                if error.code not in REFUSALS_TO_RETRY:
                    raise
                continue
            if record["status"] != "unknown":
                self.hubs.settle(url)
                return record
            unknown = unknown or record
        return unknown

    async def _resubmit(self, transaction: Transaction) -> None:
        # No hub takes it now (NodeUnreachable is a ClientError too): the wait goes on, and its
        # deadline says what to do.
        with contextlib.suppress(ClientError):
            await self.request("POST", "/v1/transactions", transaction.to_json(), rounds=1)

    async def call(
        self,
        key: PrivateKey,
        contract: str,
        method: str,
        args: Mapping[str, Any],
        *,
        wait: bool = True,
        nonce: int | None = None,
        timeout_ms: int = WAIT_TIMEOUT_MS_DEFAULT,
    ) -> dict[str, Any]:
        """Build, sign and submit one contract call; with ``wait`` return its committed record
        (or raise TransactionPending: see ``wait``)."""
        transaction = await self.build(key, contract, method, args, nonce=nonce)
        transaction_id = await self.submit(transaction)
        if not wait:
            return {"id": transaction_id, "status": "pending"}
        return await self.wait(transaction, timeout_ms=timeout_ms)
