"""Each blacklist field's comparable form, the same for rules and for the records checked.

Pure functions: no database, no clock. Each returns None for a blank value; `phone` and
`network` raise ValueError for text that is not a phone number or an address.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from crm.i18n import gettext as _
from crm.schemas import normalize_phone
from crm.search import fold

TEXT_FIELDS = ("first_name", "last_name", "street", "house", "city")
FIELDS = (*TEXT_FIELDS, "postal_code", "email", "ip", "phone")
"""Every field a rule may fill, in the order pages show them."""
VALUE_FIELDS = tuple(field for field in FIELDS if field != "ip")
"""The fields compared by equality of their normalized values (an IP is compared by range)."""

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
"""IPv4 addresses as dual-stack servers write them in IPv6."""


def text(value: str | None) -> str | None:
    """Letters in any case, surrounding and repeated spaces ignored, `ё` read as `е`; a
    letter typed with a combining mark is the letter typed at once (`е` + U+0308 is `ё`)."""
    return fold(value) or None


def email(value: str | None) -> str | None:
    """An address lower-cased and trimmed."""
    if value is None:
        return None
    return value.strip().lower() or None


def postal_code(value: str | None) -> str | None:
    """A postal code without any spaces, letters in any case (`SW1A 1AA` = `sw1a1aa`)."""
    if value is None:
        return None
    return "".join(value.split()).casefold() or None


def phone(value: str | None) -> str | None:
    """E.164, read with Russia as the default region (`8 916 123-45-67` → `+79161234567`)."""
    if value is None or not value.strip():
        return None
    return normalize_phone(value)


def _unmapped(address: Address) -> Address:
    """`::ffff:1.2.3.4` is the IPv4 address 1.2.3.4 (how dual-stack servers report it)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address(value: str | None) -> Address | None:
    """One IPv4 or IPv6 address (a request's source)."""
    if value is None or not value.strip():
        return None
    try:
        return _unmapped(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(_("enter an IP address such as 203.0.113.7 or 2001:db8::1")) from None


def source(value: str | None) -> str | None:
    """A request's source address as stored: canonical text, None when none or unreadable."""
    try:
        found = address(value)
    except ValueError:
        return None
    return None if found is None else str(found)


def network(value: str | None) -> Network | None:
    """A single address (as /32 or /128) or a network in CIDR form (`10.0.0.0/24`)."""
    if value is None or not value.strip():
        return None
    typed = value.strip()
    try:
        interface = ipaddress.ip_interface(typed)
    except ValueError:
        raise ValueError(
            _("enter an IP address (203.0.113.7) or a network in CIDR form (10.0.0.0/24)")
        ) from None
    if "/" not in typed:
        return ipaddress.ip_network(_unmapped(interface.ip))
    if interface.ip != interface.network.network_address:
        raise ValueError(
            _("%(typed)s has host bits set: the network is %(network)s")
            % {"typed": typed, "network": interface.network}
        )
    found = interface.network
    if isinstance(found, ipaddress.IPv6Network) and found.subnet_of(MAPPED):
        # ::ffff:1.2.3.0/120 is 1.2.3.0/24: the addresses checked against it are IPv4.
        first = found.network_address.ipv4_mapped
        return ipaddress.IPv4Network(f"{first}/{found.prefixlen - 96}")
    return found


def key(value: Address) -> str:
    """An address as fixed-width hex (8 digits IPv4, 32 IPv6): text order is address order."""
    return f"{int(value):0{value.max_prefixlen // 4}x}"


def containing_firsts(value: Address, prefixes: Iterable[int]) -> list[str]:
    """The first address of each network of these prefix lengths that contains `value`."""
    bits = value.max_prefixlen
    number = int(value)
    firsts = {number >> (bits - prefix) << (bits - prefix) for prefix in prefixes}
    return sorted(f"{first:0{bits // 4}x}" for first in firsts)


def value_key(values: Mapping[str, str]) -> str:
    """One lookup key for a set of normalized values: which fields, and what each holds.

    A rule without an IP is found by the key of all its values; a record is checked with
    the key of each part of its values that some rule's fields cover (`part_keys`), so a
    rule is found only when each of its fields holds the record's value there, however many
    rules share one of them.
    """
    canonical = "\x1f".join(f"{f}\x1e{values[f]}" for f in VALUE_FIELDS if f in values)
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def shape(values: Mapping[str, str]) -> str:
    """Which fields a rule without an IP fills, as the shapes table keeps it: "last_name,city"."""
    return ",".join(field for field in VALUE_FIELDS if field in values)


def network_shape(network: Network) -> str:
    """A rule with an IP by its network's size, as the shapes table keeps it: "ipv4/24"."""
    return f"ipv{network.version}/{network.prefixlen}"


def prefixes(shapes: Iterable[str], version: int) -> list[int]:
    """The prefix lengths of the rules' networks of this IP version."""
    start = f"ipv{version}/"
    return [int(known[len(start) :]) for known in shapes if known.startswith(start)]


def part_keys(values: Mapping[str, str], shapes: Iterable[str]) -> list[str]:
    """The `value_key` of each part of a record's values that has one of the rules' shapes."""
    keys = []
    for known in shapes:
        if known.startswith("ipv"):
            continue
        fields = known.split(",")
        if all(field in values for field in fields):
            keys.append(value_key({field: values[field] for field in fields}))
    return keys


NORMALIZERS: dict[str, Callable[[str | None], str | None]] = {
    **dict.fromkeys(TEXT_FIELDS, text),
    "postal_code": postal_code,
    "email": email,
    "phone": phone,
}


def _lenient_phone(value: str | None) -> str | None:
    """A record's phone: one that is no number matches no rule, rather than failing."""
    try:
        return phone(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class Comparable:
    """A record's or a rule's fields in comparable form."""

    values: dict[str, str]
    """field -> normalized value, for every filled field but `ip`."""
    address: Address | None = None
    network: Network | None = None


def comparable_record(values: Mapping[str, str | None]) -> Comparable:
    """A checked record's normalized fields; an unreadable phone or address is left out."""
    found: dict[str, str] = {}
    for field in VALUE_FIELDS:
        normalizer = _lenient_phone if field == "phone" else NORMALIZERS[field]
        normalized = normalizer(values.get(field))
        if normalized is not None:
            found[field] = normalized
    try:
        source = address(values.get("ip"))
    except ValueError:
        source = None
    return Comparable(values=found, address=source)


def comparable_rule(values: Mapping[str, str | None]) -> Comparable:
    """A rule's normalized fields (ValueError for a phone or network the schema would refuse)."""
    found = {
        field: normalized
        for field in VALUE_FIELDS
        if (normalized := NORMALIZERS[field](values.get(field))) is not None
    }
    return Comparable(values=found, network=network(values.get("ip")))


def rule_matches(rule: Comparable, record: Comparable) -> bool:
    """Every filled field of the rule matches the record (the linear check, one rule)."""
    if any(record.values.get(field) != value for field, value in rule.values.items()):
        return False
    if rule.network is None:
        return bool(rule.values)
    return record.address is not None and record.address in rule.network
