""" "Add to blacklist" from a request or a client, and the setting of which fields it copies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.auth.service import Actor, require_admin
from crm.blacklist.matching import RecordValues
from crm.blacklist.models import BlacklistRule, BlacklistSettings
from crm.blacklist.normalize import FIELDS
from crm.blacklist.schemas import BlacklistRuleIn
from crm.blacklist.screening import record_values
from crm.blacklist.service import create_rule
from crm.clients.service import get_client
from crm.errors import Invalid, NotFound
from crm.i18n import gettext as _
from crm.models import Client, Request
from crm.schemas import parse

DEFAULT_COPY_FIELDS = ("email",)
"""What a rule made from a record gets unless an admin chose otherwise."""
SETTINGS_ID = 1


async def copy_fields(session: AsyncSession) -> tuple[str, ...]:
    """The fields "add to blacklist" copies, in the order pages show them."""
    settings = await session.get(BlacklistSettings, SETTINGS_ID)
    return DEFAULT_COPY_FIELDS if settings is None else tuple(settings.copy_fields)


def _chosen(fields: Sequence[str]) -> list[str]:
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise Invalid.one(
            "copy_fields", _("not a blacklist field: %(fields)s") % {"fields": ", ".join(unknown)}
        )
    if not fields:
        raise Invalid.one("copy_fields", _("choose at least one field"))
    return [field for field in FIELDS if field in fields]


async def set_copy_fields(
    session: AsyncSession, *, actor: Actor, fields: Sequence[str], now: datetime
) -> tuple[str, ...]:
    """Choose the fields copied from now on (admins only); Invalid naming `copy_fields`."""
    require_admin(actor)
    chosen = _chosen(fields)
    # The migration writes the one row; an update of it waits for another admin's.
    updated = await session.execute(
        update(BlacklistSettings)
        .where(BlacklistSettings.id == SETTINGS_ID)
        .values(copy_fields=chosen, updated_at=now)
    )
    if not updated.rowcount:  # type: ignore[attr-defined]
        session.add(BlacklistSettings(id=SETTINGS_ID, copy_fields=chosen, updated_at=now))
    await audit.record(
        session,
        actor=actor,
        action="update",
        entity="blacklist_settings",
        entity_id=SETTINGS_ID,
        details={"copy_fields": chosen},
        now=now,
    )
    return tuple(chosen)


async def _rule_from(
    session: AsyncSession,
    *,
    actor: Actor,
    values: RecordValues,
    refusal: str,
    default_note: str,
    named: dict[str, object],
    note: str | None,
    now: datetime,
) -> BlacklistRule:
    """`refusal` says the record has none of the fields copied (`%(fields)s`), and
    `default_note` is the rule's note when none is given; both name the record by `named`."""
    fields = await copy_fields(session)
    copied = {field: value for field in fields if (value := getattr(values, field))}
    if not copied:
        raise Invalid.one("copy_fields", refusal % {**named, "fields": ", ".join(fields)})
    data = parse(BlacklistRuleIn, {**copied, "note": note or default_note % named})
    return await create_rule(session, actor=actor, data=data, now=now)


async def rule_from_request(
    session: AsyncSession, *, actor: Actor, number: str, note: str | None, now: datetime
) -> BlacklistRule:
    """A rule of the request's chosen values: its client's fields and its source address."""
    require_admin(actor)
    row = (
        await session.execute(
            select(Request, Client)
            .join(Client, Client.id == Request.client_id)
            .where(Request.number == number)
        )
    ).first()
    if row is None:
        raise NotFound(f"request {number}")
    request, client = row
    values = record_values(client, request.source_ip)
    return await _rule_from(
        session,
        actor=actor,
        values=values,
        refusal=_(
            "request %(number)s has none of the fields the blacklist copies (%(fields)s): "
            "fill one in, or choose other fields in the blacklist's settings"
        ),
        default_note=_("Added from request %(number)s."),
        named={"number": number},
        note=note,
        now=now,
    )


async def rule_from_client(
    session: AsyncSession, *, actor: Actor, client_id: int, note: str | None, now: datetime
) -> BlacklistRule:
    """A rule of the client's chosen values (a client has no address of its own: no `ip`)."""
    require_admin(actor)
    client = await get_client(session, actor=actor, client_id=client_id)
    values = record_values(client, None)
    return await _rule_from(
        session,
        actor=actor,
        values=values,
        refusal=_(
            "client %(name)s (#%(id)s) has none of the fields the blacklist copies "
            "(%(fields)s): fill one in, or choose other fields in the blacklist's settings"
        ),
        default_note=_("Added from client %(name)s (#%(id)s)."),
        named={"name": f"{client.first_name} {client.last_name}", "id": client.id},
        note=note,
        now=now,
    )
