"""The database schema, changed only through Alembic migrations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from crm.enums import (
    BranchType,
    CallKind,
    CallOutcome,
    OrganizationKind,
    PartyStatus,
    PartyType,
    RecordingPolicy,
    RequestStatus,
)
from crm.search import folded

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def enum_column(enum_class: type) -> Enum:
    """An enum stored as its values in a plain string column, portable across databases."""
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
    )


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes in and out on every database (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a timestamp must carry its time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = UtcDateTime()


class Organization(Base):
    """A partner company, or an agents' own organization (found by INN through DaData)."""

    __tablename__ = "organizations"
    # A partner company and an agents' organization of one INN are two records.
    __table_args__ = (UniqueConstraint("kind", "inn", "kpp", name="uq_organizations_kind_inn_kpp"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[OrganizationKind] = mapped_column(enum_column(OrganizationKind))
    inn: Mapped[str | None] = mapped_column(String(12))
    kpp: Mapped[str] = mapped_column(String(9), default="", server_default="")
    """'' for a sole proprietor or one typed by hand; a branch shares its INN, not its KPP."""
    full_name: Mapped[str | None] = mapped_column(String(500))
    ogrn: Mapped[str | None] = mapped_column(String(15))
    ogrn_date: Mapped[date | None] = mapped_column(Date)
    party_type: Mapped[PartyType | None] = mapped_column(enum_column(PartyType))
    legal_address: Mapped[str | None] = mapped_column(Text)
    head_name: Mapped[str | None] = mapped_column(String(300))
    """The head's name; a sole proprietor's own."""
    head_post: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[PartyStatus | None] = mapped_column(enum_column(PartyStatus))
    """As DaData last said; None: never verified."""
    registered_on: Mapped[date | None] = mapped_column(Date)
    liquidated_on: Mapped[date | None] = mapped_column(Date)
    status_date: Mapped[date | None] = mapped_column(Date)
    dadata_hid: Mapped[str | None] = mapped_column(String(100))
    branch_type: Mapped[BranchType | None] = mapped_column(enum_column(BranchType))
    main_organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    """A branch's head office (loyalty points pool there); None for a head office."""
    verified_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """When DaData last confirmed it; None: "not verified" (typed by hand), refreshable."""
    recording_policy: Mapped[RecordingPolicy] = mapped_column(
        enum_column(RecordingPolicy),
        default=RecordingPolicy.OFF,
        server_default=RecordingPolicy.OFF.value,
    )
    """`on`: its managers' conversations with clients are recorded, and both are told."""
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """False: deactivated (`crm.partners.access`); none of its managers reaches the line."""
    created_at: Mapped[datetime] = mapped_column(Timestamp)

    managers: Mapped[list[Manager]] = relationship(
        back_populates="organization", lazy="raise_on_sql"
    )


class Manager(Base):
    """A person of a partner organization who calls the service number."""

    __tablename__ = "managers"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(Timestamp)

    organization: Mapped[Organization] = relationship(
        back_populates="managers", lazy="raise_on_sql"
    )
    phones: Mapped[list[ManagerPhone]] = relationship(
        back_populates="manager", lazy="raise_on_sql", cascade="all, delete-orphan"
    )


class ManagerPhone(Base):
    __tablename__ = "manager_phones"

    id: Mapped[int] = mapped_column(primary_key=True)
    manager_id: Mapped[int] = mapped_column(
        ForeignKey("managers.id", ondelete="CASCADE"), index=True
    )
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    manager: Mapped[Manager] = relationship(back_populates="phones", lazy="raise_on_sql")


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(16), unique=True)
    """The agent's own number, E.164, verified by SMS at sign-up (None: added by an admin)."""
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    """The agent's own organization (several agents may share one); None: not given yet."""
    organization_confirmed: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true()
    )
    """False while an agent who joined an existing organization by its INN waits for a
    colleague or an admin to confirm them; until then they see none of its data."""
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class Client(Base):
    """An agent's client; the phone is what managers must never learn."""

    __tablename__ = "clients"
    __table_args__ = (
        Index("ix_clients_phone", "phone"),  # who calls back; the list by phone
        # The clients list's sorts (crm.clients.service.SORTS); an agent's own by name.
        Index("ix_clients_name", "last_name", "first_name", "id"),
        Index("ix_clients_agent_name", "agent_id", "last_name", "first_name", "id"),
        Index("ix_clients_email", "email", "id"),
        Index("ix_clients_city", "city", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    street: Mapped[str | None] = mapped_column(String(200))
    house: Mapped[str | None] = mapped_column(String(50))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(100))
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    """Name, email and city folded (`crm.search`): what the client search looks in."""
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class Request(Base):
    __tablename__ = "requests"
    __table_args__ = (
        # The lists, newest first: everyone's (admins) and an agent's own.
        Index("ix_requests_created", "created_at", "id"),
        Index("ix_requests_agent_created", "agent_id", "created_at", "id"),
        # Admins' "suspicious" filter, newest first.
        Index("ix_requests_suspicious_created", "suspicious", "created_at", "id"),
        # The list's other sorts (crm.requests.service.SORTS); the number is unique.
        Index("ix_requests_product", "product", "id"),
        Index("ix_requests_status", "status", "id"),
        # The flagged requests whose letter to the admins is still to be written.
        Index(
            "ix_requests_alert_pending",
            "alert_pending",
            sqlite_where=text("alert_pending"),
            postgresql_where=text("alert_pending"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(8), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    product: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"), index=True)
    """Who pays, one of the agent's organization's payers; the partner sees its details."""
    delivery_address_id: Mapped[int | None] = mapped_column(
        ForeignKey("delivery_addresses.id"), index=True
    )
    """Where the partner sends documents: the agent's side, never the client's."""
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    """The product folded (`crm.search`): what the requests search looks in."""
    status: Mapped[RequestStatus] = mapped_column(enum_column(RequestStatus))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    source_ip: Mapped[str | None] = mapped_column(String(64))
    """The address it was filed from (a browser's, or the `client_ip` an API caller passed)."""
    suspicious: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """It matched a blacklist rule when filed or last re-checked: for admins' eyes only."""
    blacklist_matches: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=lambda: [])
    """What that check found: each rule's id and note, and the fields that matched with
    the request's values (`crm.blacklist.screening.stored`), kept as they were then."""
    alert_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Flagged at filing, and the admins' letter not written yet (a background job does)."""

    client: Mapped[Client] = relationship(lazy="raise_on_sql")
    organization: Mapped[Organization] = relationship(lazy="raise_on_sql")


class Call(Base):
    """One inbound call to the service number; its state lives here, not in a process."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_started", "started_at", "id"),  # the call log
        # The call log's other sorts (crm.call_log.SORTS).
        Index("ix_calls_caller", "caller", "id"),
        Index("ix_calls_duration", "duration_seconds", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[CallKind] = mapped_column(
        enum_column(CallKind), default=CallKind.MANAGER, server_default=CallKind.MANAGER.value
    )
    """A manager's call, or a client's call back (`manager_id` is then the manager rung)."""
    caller: Mapped[str | None] = mapped_column(String(32))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("managers.id"), index=True)
    recorded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The manager's company recorded when the call began, and the manager was told so: a
    dial of this call may record only then (and only while the company still records)."""
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), index=True)
    stage: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[CallOutcome | None] = mapped_column(enum_column(CallOutcome))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    dials: Mapped[int] = mapped_column(Integer, default=0)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)

    events: Mapped[list[CallEvent]] = relationship(
        back_populates="call", lazy="raise_on_sql", order_by="CallEvent.id"
    )


class DialAttempt(Base):
    """One time a call dialed a request's client: what a request's call history lists.

    Its facts are its own: whether the client accepted at the whisper, what Twilio reported
    (`DialCallStatus`, `None` until the dial result came), the talk time and the outcome. A
    call's talk time is the sum of its dials'.
    """

    __tablename__ = "dial_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    outcome: Mapped[CallOutcome | None] = mapped_column(enum_column(CallOutcome))
    client_accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """This dial's <Dial> records: its client's whisper says so, and its recording may be kept."""
    dial_status: Mapped[str | None] = mapped_column(String(32))
    talk_seconds: Mapped[int] = mapped_column(Integer, default=0)


class CallEvent(Base):
    """One audit row per webhook step of a call."""

    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(Timestamp)
    step: Mapped[str] = mapped_column(String(32))
    digits: Mapped[str | None] = mapped_column(String(32))
    result: Mapped[str] = mapped_column(String(64))

    call: Mapped[Call] = relationship(back_populates="events", lazy="raise_on_sql")


@event.listens_for(Client, "before_insert")
@event.listens_for(Client, "before_update")
def _client_search_text(_mapper: Any, _connection: Any, client: Client) -> None:
    # First and last name as one field: «Олег Сидоров» is typed the way it is written.
    name = f"{client.first_name or ''} {client.last_name or ''}"
    client.search_text = folded(name, client.email, client.city)


@event.listens_for(Request, "before_insert")
@event.listens_for(Request, "before_update")
def _request_search_text(_mapper: Any, _connection: Any, request: Request) -> None:
    request.search_text = folded(request.product)
