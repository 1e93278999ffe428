"""The `api` blueprint, in a module of its own so resource modules add routes without importing the package."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
