"""HubLedger consensus package."""
