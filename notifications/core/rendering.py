"""Turning a notification into the text a user reads, at send time.

This is the only place a sealed one-time token is unsealed, and only in memory: the result goes
to the channel and is never stored, logged or put in an error message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.template import Context
from django.template.loader import get_template

from auth.interface import ONE_TIME_TOKEN_SEAL
from project.crypto import InvalidToken, unseal_for

from .types import TypeDefinition

SUBJECT_MAX = 255


class RenderError(Exception):
    """The message cannot be built (a token that does not unseal, a broken template): retrying
    will not help. The message never contains the token or the body."""


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str

    def __repr__(self) -> str:  # the body may carry a token: keep it out of tracebacks and logs
        return f"Rendered(subject={self.subject!r})"


def frontend_url() -> str:
    return str(getattr(settings, "GATEHOUSE_FRONTEND_URL", "") or "").rstrip("/")


def template_context(definition: TypeDefinition, stored: dict[str, Any], recipient_id=None) -> dict[str, Any]:
    """What the templates see: the type's declared fields (sealed ones replaced by the `link`
    they make), and `frontend_url`. Nothing else a sender put in the context gets through."""
    context: dict[str, Any] = {"frontend_url": frontend_url()}
    for field in definition.fields:
        value = stored.get(field.name)
        if field.sealed:
            continue
        context[field.name] = "" if value is None else str(value)
    sealed = definition.sealed_field
    if sealed is not None and definition.link_path:
        try:
            # Only into the message of the user it was issued to (issue 15, item 2).
            token = unseal_for(str(stored.get(sealed.name, "")), purpose=ONE_TIME_TOKEN_SEAL, subject=str(recipient_id))
        except (InvalidToken, ValueError, TypeError):
            raise RenderError(
                "the one-time token does not unseal for this recipient (another user's, or SECRET_KEY changed)"
            ) from None
        context["link"] = f"{frontend_url()}{definition.link_path}?token={quote(token, safe='')}"
    return context


def _render(name: str, context: dict[str, Any], *, autoescape: bool) -> str:
    # The Django engine's own Template, so that autoescaping is chosen per part: on for HTML, off
    # for the plain-text part and the subject (where `&` must stay `&`).
    template = get_template(name).template
    return template.render(Context(context, autoescape=autoescape))


def render(definition: TypeDefinition, stored: dict[str, Any], recipient_id=None) -> Rendered:
    context = template_context(definition, stored, recipient_id)
    base = f"notifications/{definition.code}"
    try:
        subject = _render(f"{base}.subject.txt", context, autoescape=False)
        text = _render(f"{base}.txt", context, autoescape=False)
        html = _render(f"{base}.html", context, autoescape=True)
    except Exception as exc:
        # Not chained: a template error's message could quote the rendered context.
        raise RenderError(f"template {base} failed: {type(exc).__name__}") from None
    # One line, always: a newline in a mail header is an injection.
    subject = " ".join(subject.split())[:SUBJECT_MAX]
    return Rendered(subject=subject, text=text.strip() + "\n", html=html)
