"""HubLedger node package."""
