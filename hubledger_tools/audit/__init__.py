"""Audit: export a chain with its certificates, verify it offline, and prove one transaction final.

Everything here needs only the exported file (or proof) and genesis.json:
no node, no network, no database.
"""
