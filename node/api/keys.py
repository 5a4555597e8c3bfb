"""Typed keys for what the client API stores on its aiohttp application."""

from aiohttp import web

from node.client_signatures import ClientSignatures
from node.service import Node
from node.standing import Standing
from node.state_proofs import AccountProver

NODE = web.AppKey("node", Node)
SIGNATURES = web.AppKey("signatures", ClientSignatures)
STANDING = web.AppKey("standing", Standing)
PROVER = web.AppKey("prover", AccountProver)
