"""HubLedger p2p package."""
