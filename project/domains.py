"""Domain names as Gatehouse stores and compares them (organizations' verified domains, the
addresses a SCIM organization token may write): shared by the users service and SCIM, so that both
read a name the same way."""

from __future__ import annotations

import idna


def domain_name(text: str) -> str:
    """A domain name as stored: IDNA 2008 (UTS 46) A-labels, lower case, no trailing dot, at least
    two labels, letters/digits/inner hyphens, a top-level label that is not all digits (no IP
    addresses). ValueError, with the reason for a person, for anything else."""
    if not isinstance(text, str):
        raise ValueError("A domain name is a string.")
    name = text.strip()
    if name.endswith("."):
        name = name[:-1]
    if not name or len(name) > 253 * 4:
        raise ValueError("Enter a domain name, e.g. example.com.")
    if any(ch in name for ch in "@/:\\ \t\r\n*?#[]") or any(ord(ch) < 32 for ch in name):
        raise ValueError("A domain name only, e.g. example.com: no address, scheme, port, path or wildcard.")
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        raise ValueError("Not a valid internationalised domain name.") from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2:
        raise ValueError("A domain name has at least two labels and at most 253 characters.")
    for label in labels:
        if not 1 <= len(label) <= 63 or label.startswith("-") or label.endswith("-"):
            raise ValueError("Each label has 1 to 63 letters, digits or inner hyphens.")
        if not all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in label):
            raise ValueError("Each label has 1 to 63 letters, digits or inner hyphens.")
    if labels[-1].isdigit():
        raise ValueError("A domain name, not an IP address.")
    return ascii_name
