"""HubLedger scripts package."""
