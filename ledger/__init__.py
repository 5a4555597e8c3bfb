"""HubLedger's shared data model: transactions, blocks, certificates, canonical
CBOR, hashing, keys and signatures. No I/O happens in this package."""
