"""API tokens: created once and shown once; only their hash is kept."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import ApiToken, utcnow
from .statements import affected

TOKEN_PREFIX = "ivs_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(session: AsyncSession, *, name: str, role: str, operator: str | None = None) -> str:
    """Store a new token and return it; this is the only time it exists in clear. An operator token names the
    operator (their code) whose results it reads; no other role names one."""
    if (role == "operator") != (operator is not None):
        raise ValueError("an operator token names its operator, and only an operator token does")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, role=role, token_hash=hash_token(token), operator=operator))
    await session.flush()
    return token


async def find_token(session: AsyncSession, *, token_hash: str) -> ApiToken | None:
    """The live (not revoked) token with this hash (hash_token of its value)."""
    stmt = select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_tokens(session: AsyncSession) -> list[ApiToken]:
    """Every token, revoked ones too; a name given again after a revocation shows once per token, oldest first."""
    return list((await session.execute(select(ApiToken).order_by(ApiToken.name, ApiToken.id))).scalars())


async def revoke_token(session: AsyncSession, *, name: str) -> bool:
    result = await session.execute(
        update(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    return bool(affected(result))
