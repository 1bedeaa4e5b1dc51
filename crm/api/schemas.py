"""What the JSON API accepts beyond the shared inputs, and everything it answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from crm.blacklist import normalize
from crm.blacklist.screening import MAX_RECHECK
from crm.enums import (
    BranchType,
    CallOutcome,
    PartyStatus,
    PartyType,
    RecordingPolicy,
    RequestStatus,
    Role,
)
from crm.models import Manager
from crm.organizations.schemas import AddressDetails, PayerDetails
from crm.requests.service import CallRow, RequestRow
from crm.schemas import ClientIn, RequestIn

# Ids are 32-bit integers in PostgreSQL; a larger one could never exist, so it never reaches SQL.
MAX_ID = 2**31 - 1
Id = Annotated[int, Field(gt=0, le=MAX_ID)]


Timestamp = datetime


class NewClient(ClientIn):
    agent_id: Id | None = Field(
        None,
        description="Admins only: the agent the client belongs to. Ignored for an agent's key.",
    )

    def client_in(self) -> ClientIn:
        return ClientIn.model_validate(self.model_dump(exclude={"agent_id"}))


class NewRequest(RequestIn):
    client_id: Id
    organization_id: Id = Field(description="A partner company (GET /api/v1/organizations).")
    client_ip: str | None = Field(
        None,
        max_length=64,
        description="The address the customer filed from, when a platform site files on "
        "their behalf (IPv4 or IPv6). Without it, the address of this API call is used.",
    )

    @field_validator("client_ip")
    @classmethod
    def _client_ip(cls, value: str | None) -> str | None:
        found = normalize.address(value)
        return None if found is None else str(found)


class NewApiKey(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    user_id: Id
    name: str = Field(min_length=1, max_length=100, description="Who will use the key.")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorBody(_Out):
    code: str = Field(
        description="invalid, conflict, bad_request, unauthorized, forbidden, "
        "not_found, method_not_allowed, too_large, gone, too_many_requests, "
        "sms_not_sent, twilio_unavailable, suspended or server_error"
    )
    message: str
    fields: dict[str, str] = Field(
        description="Each offending field (or `body`) and what is "
        "wrong with it; empty when no field is at fault."
    )
    retry_after: int | None = Field(
        None, description="429 and 503: seconds until it may be tried again (as `Retry-After`)."
    )
    attempts_left: int | None = Field(
        None, description="A wrong sign-up code (422): how many more tries the code has."
    )


class ErrorOut(_Out):
    error: ErrorBody


class _Page(_Out):
    page: int
    per_page: int
    total: int
    pages: int


class ClientOut(_Out):
    id: int
    agent_id: int
    first_name: str
    last_name: str
    phone: str
    email: str | None
    street: str | None
    house: str | None
    postal_code: str | None
    city: str | None
    created_at: Timestamp


class ClientPage(_Page):
    items: list[ClientOut]


class ClientRef(_Out):
    id: int
    first_name: str
    last_name: str


class OrganizationRef(_Out):
    id: int
    name: str


class RequestOut(_Out):
    number: str
    status: RequestStatus
    product: str
    comment: str | None
    agent_id: int
    client: ClientRef
    organization: OrganizationRef
    created_at: Timestamp
    closed_at: Timestamp | None
    last_call_at: Timestamp | None
    last_outcome: CallOutcome | None
    payer: PayerDetails | None = Field(None, description="Who pays, with the bank details.")
    delivery_address: AddressDetails | None = Field(
        None, description="Where the documents go, on the agent's side."
    )

    @classmethod
    def of(cls, row: RequestRow) -> RequestOut:
        request = row.request
        return cls(
            number=request.number,
            status=request.status,
            product=request.product,
            comment=request.comment,
            agent_id=request.agent_id,
            client=ClientRef.model_validate(row.client),
            organization=OrganizationRef.model_validate(row.organization),
            created_at=request.created_at,
            closed_at=request.closed_at,
            last_call_at=row.last_call_at,
            last_outcome=row.last_outcome,
            payer=PayerDetails.model_validate(row.payer) if row.payer else None,
            delivery_address=(
                AddressDetails.model_validate(row.delivery_address)
                if row.delivery_address
                else None
            ),
        )


class RequestPage(_Page):
    items: list[RequestOut]


class PartnerRequestOut(_Out):
    """A request as its partner company's manager sees it: no contact details."""

    number: str
    product: str
    client_first_name: str
    city: str | None
    created_at: Timestamp
    payer: PayerDetails | None = Field(
        None, description="Who pays (the agent's side), with the bank details to invoice."
    )
    delivery_address: AddressDetails | None = Field(
        None, description="Where the documents go: the agent's side, never the client."
    )


class PartnerRequestPage(_Page):
    items: list[PartnerRequestOut]


class CallOut(_Out):
    """One call about a request; the caller's and the client's numbers are never shown."""

    kind: Literal["manager_call", "client_callback"] = Field(
        description="A manager's call to the client, or the client's call back to the manager."
    )
    started_at: Timestamp
    ended_at: Timestamp | None
    manager_name: str | None
    organization_name: str | None
    outcome: CallOutcome | None
    bridged_seconds: int

    @classmethod
    def of(cls, row: CallRow) -> CallOut:
        return cls(
            kind=row.kind,  # type: ignore[arg-type]
            started_at=row.started_at,
            ended_at=row.ended_at,
            manager_name=row.manager_name,
            organization_name=row.organization_name,
            outcome=row.outcome,
            bridged_seconds=row.bridged_seconds,
        )


class CallList(_Out):
    items: list[CallOut]


class OrganizationOut(_Out):
    id: int
    name: str
    inn: str | None
    recording_policy: RecordingPolicy
    is_active: bool = Field(description="False: deactivated; its managers reach no line.")
    created_at: Timestamp
    kpp: str = Field("", description="'' for a sole proprietor, or when typed by hand.")
    full_name: str | None = None
    ogrn: str | None = None
    ogrn_date: date | None = None
    type: PartyType | None = Field(None, validation_alias="party_type")
    legal_address: str | None = None
    head_name: str | None = Field(None, description="A sole proprietor's own name.")
    head_post: str | None = None
    status: PartyStatus | None = Field(
        None,
        description="As DaData last said; None: never verified. Liquidating, liquidated or "
        "bankrupt: no new request may name it.",
    )
    registered_on: date | None = None
    liquidated_on: date | None = None
    branch_type: BranchType | None = None
    main_organization_id: int | None = Field(None, description="A branch's head office.")
    verified_at: Timestamp | None = Field(None, description="When DaData last confirmed it.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verified(self) -> bool:
        """False: typed by hand while DaData could not tell; refresh it later."""
        return self.verified_at is not None


class OrganizationPage(_Page):
    items: list[OrganizationOut]


class ManagerOut(_Out):
    id: int
    organization_id: int
    name: str
    phones: list[str]
    inactive_phones: list[str] = Field(
        default_factory=list, description="Those of `phones` that are deactivated."
    )
    is_active: bool = True
    created_at: Timestamp

    @classmethod
    def of(cls, manager: Manager, phones: list[str] | None = None) -> ManagerOut:
        """A manager with `phones` as given (a new one's), or with its loaded phones."""
        loaded = manager.phones if phones is None else []
        return cls(
            id=manager.id,
            organization_id=manager.organization_id,
            name=manager.name,
            phones=phones if phones is not None else [phone.phone for phone in loaded],
            inactive_phones=[phone.phone for phone in loaded if not phone.is_active],
            is_active=manager.is_active,
            created_at=manager.created_at,
        )


class ManagerList(_Out):
    items: list[ManagerOut]


class ApiKeyOut(_Out):
    id: int
    user_id: int
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None


class IssuedApiKey(ApiKeyOut):
    key: str = Field(
        description="The bearer key itself. Shown only in this answer; the "
        "service keeps its hash alone."
    )


class CodeSentOut(_Out):
    expires_in: int = Field(description="Seconds the code may be typed in.")
    resend_after: int = Field(description="Seconds until a new code may be requested.")


class SignupTokenOut(_Out):
    signup_token: str = Field(
        description="Finishes the sign-up (POST /api/v1/signup/complete); single use, short-lived."
    )


class SignedUpOut(_Out):
    user_id: int
    agent_id: int
    email: str
    name: str
    phone: str


BlacklistField = Literal[
    "first_name", "last_name", "street", "house", "postal_code", "city", "email", "ip", "phone"
]


class BlacklistMatchOut(_Out):
    rule_id: int
    note: str | None = Field(description="The rule's note when it matched.")
    fields: dict[str, str] = Field(
        description="Each field of the rule, with the request's value that matched it."
    )


class AdminRequestOut(RequestOut):
    """A request as an admin's key sees it: where it came from and what the blacklist found."""

    source_ip: str | None = Field(description="The address it was filed from.")
    suspicious: bool = Field(description="It matched a blacklist rule when filed or re-checked.")
    blacklist_matches: list[BlacklistMatchOut]

    @classmethod
    def of_admin(cls, row: RequestRow) -> AdminRequestOut:
        request = row.request
        return cls(
            **RequestOut.of(row).model_dump(),
            source_ip=request.source_ip,
            suspicious=request.suspicious,
            blacklist_matches=[
                BlacklistMatchOut.model_validate(m) for m in request.blacklist_matches
            ],
        )


class AdminRequestPage(_Page):
    items: list[AdminRequestOut]


class BlacklistRuleOut(_Out):
    id: int
    first_name: str | None
    last_name: str | None
    street: str | None
    house: str | None
    postal_code: str | None
    city: str | None
    email: str | None
    ip: str | None
    phone: str | None
    note: str | None
    created_at: Timestamp


class BlacklistRulePage(_Page):
    items: list[BlacklistRuleOut]


class DryRunRequestOut(_Out):
    number: str
    created_at: Timestamp
    client: ClientRef


class DryRunOut(_Out):
    count: int = Field(description="Past requests the rule would have flagged.")
    requests: list[DryRunRequestOut] = Field(description="The most recent of them, newest first.")


class RecheckIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    numbers: list[Annotated[str, Field(pattern=r"^[0-9]{8}$")]] = Field(
        min_length=1,
        max_length=MAX_RECHECK,
        description="Request numbers to check against today's rules.",
    )


class RecheckedOut(_Out):
    number: str
    was_suspicious: bool
    suspicious: bool
    added: list[int] = Field(description="Rules it matches now and did not before.")
    removed: list[int] = Field(description="Rules it matched before and does not now.")
    blacklist_matches: list[BlacklistMatchOut]


class RecheckOut(_Out):
    items: list[RecheckedOut]


class BlacklistSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    copy_fields: list[BlacklistField] = Field(
        min_length=1,
        max_length=9,
        description="Which of a record's fields “add to blacklist” copies into the rule: "
        "first_name, last_name, street, house, postal_code, city, email, ip, phone.",
    )


class BlacklistSettingsOut(_Out):
    copy_fields: list[BlacklistField]


class FromRecordIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    note: str | None = Field(None, max_length=2000, description="Why; a default names the record.")


class LockoutOut(_Out):
    id: int
    caller: str = Field(description="The number the wrong request numbers came from.")
    manager_id: int | None
    manager: str | None = Field(description="The manager's name.")
    company: str | None = Field(description="The manager's partner company.")
    wrong_count: int = Field(description="Wrong request numbers in the window at the lock.")
    locked_at: Timestamp
    locked_until: Timestamp
    unlocked_at: Timestamp | None
    unlocked_by: str | None
    active: bool = Field(description="Still in force: not unlocked, and not over yet.")


class LockoutPage(_Page):
    items: list[LockoutOut]


class RecordingOut(_Out):
    id: int
    created_at: Timestamp
    duration_seconds: int
    audio_url: str = Field(description="The MP3, through this API (the same key).")


class RecordingList(_Out):
    items: list[RecordingOut]


class AgentOut(_Out):
    id: int
    name: str
    email: str
    is_active: bool


class UserOut(_Out):
    id: int
    email: str
    name: str
    role: Role
    is_active: bool
