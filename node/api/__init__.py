"""The client HTTP API (aiohttp): JSON everywhere, CBOR where a client asks for it."""
