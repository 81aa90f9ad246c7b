"""An outgoing e-mail as MIME: ``multipart/alternative`` with the text and an HTML rendering of it, and on
non-essential messages an unsubscribe link in both bodies plus ``List-Unsubscribe`` (with RFC 8058 one-click:
``List-Unsubscribe-Post``), which mail clients show as their own "unsubscribe" button."""

from __future__ import annotations

import html
import uuid
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Protocol

from cauri.core.config import Settings
from cauri.notifications.email.unsubscribe import unsubscribe_url

FOOTER = {
    "fr": ("Vous ne souhaitez plus recevoir ces e-mails ?", "Se désabonner"),
    "en": ("Don't want these e-mails any more?", "Unsubscribe"),
}


class Mail(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def recipient(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def unsubscribe_kind(self) -> str | None: ...


def html_of(text: str, *, language: str, subject: str, unsubscribe: str | None) -> str:
    """The text as HTML: paragraphs on blank lines, line breaks kept, everything escaped."""
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    rendered = "\n".join(f"<p>{'<br>'.join(html.escape(line) for line in p.split(chr(10)))}</p>" for p in paragraphs)
    footer = ""
    if unsubscribe is not None:
        question, action = FOOTER.get(language, FOOTER["fr"])
        footer = (
            '<hr><p style="font-size:12px;color:#666">'
            f'{html.escape(question)} <a href="{html.escape(unsubscribe)}">{html.escape(action)}</a></p>'
        )
    return (
        f'<!DOCTYPE html><html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>"
        f'<body style="font-family:Arial,sans-serif;line-height:1.5">\n{rendered}\n{footer}</body></html>\n'
    )


def compose(settings: Settings, mail: Mail) -> EmailMessage:
    link = unsubscribe_url(settings, mail.recipient, mail.unsubscribe_kind) if mail.unsubscribe_kind else None
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = mail.recipient
    email["Subject"] = mail.subject
    email["Date"] = formatdate(localtime=False)
    # Derived from the notification: if a retry sends it twice, mail clients show it once.
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "cauri.local"
    email["Message-ID"] = f"<{mail.id}@{domain}>"
    text = mail.body
    if link is not None:
        question, action = FOOTER.get(mail.language, FOOTER["fr"])
        text = f"{mail.body.rstrip()}\n\n-- \n{question} {action} : {link}\n"
        email["List-Unsubscribe"] = f"<{link}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(text, charset="utf-8")
    email.add_alternative(
        html_of(mail.body, language=mail.language, subject=mail.subject, unsubscribe=link), subtype="html"
    )
    email["Content-Language"] = mail.language  # after set_content, which resets every Content-* header
    return email
