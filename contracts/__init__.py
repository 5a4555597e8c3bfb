"""HubLedger contracts package."""
