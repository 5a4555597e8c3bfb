"""Typed keys for what the client API stores on its aiohttp application."""

from aiohttp import web

from node.client_signatures import ClientSignatures
from node.service import Node

NODE = web.AppKey("node", Node)
SIGNATURES = web.AppKey("signatures", ClientSignatures)
