"""HubLedger storage package."""
