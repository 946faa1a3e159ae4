"""API tokens: random secrets shown once, stored only as a SHA-256 digest.

A token is ``owt_<id>_<secret>``; the id finds the row, the secret is compared
in constant time against the stored digest. A token with a project list may
upload only to those projects; one without is global. Clients send it as HTTP
Basic credentials with the user name ``__token__`` (twine, uv publish, pip URLs)
or as a Bearer token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence

from packaging.utils import canonicalize_name

from omniwheel.errors import UsageError
from omniwheel.index.db import Database, TokenRow

PREFIX = "owt"


def _digest(secret: str) -> str:
    # The secret has 256 bits of entropy: a fast hash cannot be brute-forced.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(db: Database, name: str, projects: Sequence[str] = ()) -> tuple[TokenRow, str]:
    """A new token row and the token text, which is never stored and cannot be shown again."""
    if not name or any(char.isspace() for char in name):
        raise UsageError(f"token name {name!r} must be non-empty and contain no spaces")
    if any(row.name == name for row in db.tokens()):
        raise UsageError(f"a token called {name!r} exists already; pick another name")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    scope = tuple(sorted({canonicalize_name(project) for project in projects})) or None
    row = TokenRow(token_id, name, _digest(secret), scope, time.time(), None)
    db.add_token(row)
    return row, f"{PREFIX}_{token_id}_{secret}"


def token_from_header(authorization: str | None) -> str | None:
    """The token in an ``Authorization`` header (Basic password or Bearer), if any."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


def authenticate(db: Database, token: str) -> TokenRow | None:
    """The live token row ``token`` proves, or None."""
    prefix, _, rest = token.partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not secret:
        return None
    row = db.token(token_id)
    if row is None or row.revoked is not None:
        return None
    return row if hmac.compare_digest(row.digest, _digest(secret)) else None


def may_upload(row: TokenRow, project: str) -> bool:
    return row.projects is None or canonicalize_name(project) in row.projects
