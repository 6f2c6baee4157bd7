"""E-mail over SMTP (aiosmtplib): UTF-8 text + HTML, RFC 2047 subjects, STARTTLS or TLS."""

from __future__ import annotations

from dataclasses import dataclass
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib
from pydantic import BaseModel, Field, SecretStr

from sipas_runtime.channels.base import ChannelError, Delivery, DeliveryStatus, OutboundMessage

_RETRYABLE_SMTP = range(400, 500)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send e-mail."""

    host: str
    port: int = 587
    sender: str = "khaosat@example.gov.vn"
    sender_name: str = "Khảo sát sự hài lòng"
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    use_tls: bool = False
    timeout: float = 15.0


class SmtpChannel:
    """Sends one e-mail per message; the message key becomes the Message-ID's local part."""

    name = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        if "@" not in settings.sender:
            raise ChannelError(f"SMTP sender {settings.sender!r} is not an e-mail address")
        self._settings = settings

    def build(self, message: OutboundMessage) -> EmailMessage:
        """The MIME message (exposed for tests and previews)."""
        s = self._settings
        mail = EmailMessage()
        local, _, domain = s.sender.partition("@")
        mail["From"] = Address(s.sender_name, local, domain)
        mail["To"] = message.recipient
        # RFC 2047 by hand: the stdlib folder drops the space between two encoded words
        # when it folds a long Vietnamese subject ("Sở Tư pháp" arrives as "SởTư pháp").
        subject = Header(message.subject or "Khảo sát sự hài lòng", "utf-8", header_name="Subject")
        mail.set_raw("Subject", subject.encode(linesep="\r\n"))
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(idstring=message.key[:40], domain=domain)
        mail.set_content(message.text, charset="utf-8")
        if message.html:
            mail.add_alternative(message.html, subtype="html", charset="utf-8")
        return mail

    async def send(self, message: OutboundMessage) -> Delivery:
        """Hand the e-mail to the SMTP server."""
        s = self._settings
        mail = self.build(message)
        try:
            errors, response = await aiosmtplib.send(
                mail,
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password,
                start_tls=s.starttls and not s.use_tls,
                use_tls=s.use_tls,
                timeout=s.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [str(r.code) for r in exc.recipients]
            return Delivery(
                DeliveryStatus.PERMANENT, code=",".join(codes), detail="recipient refused"
            )
        except aiosmtplib.SMTPResponseException as exc:
            status = (
                DeliveryStatus.RETRYABLE
                if exc.code in _RETRYABLE_SMTP
                else DeliveryStatus.PERMANENT
            )
            return Delivery(status, code=str(exc.code), detail=exc.message[:200])
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Delivery(DeliveryStatus.RETRYABLE, detail=f"{type(exc).__name__}: {exc}"[:200])
        if errors:
            code = ",".join(str(c) for c, _ in errors.values())
            return Delivery(DeliveryStatus.PERMANENT, code=code, detail="recipient refused")
        return Delivery(DeliveryStatus.SENT, provider_id=mail["Message-ID"], detail=response[:200])


class SmtpFields(BaseModel):
    """The ``SMTP_*`` settings of a service that sends e-mail (its settings inherit them)."""

    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_sender: str = "khaosat@example.gov.vn"
    smtp_sender_name: str = "Khảo sát sự hài lòng"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_tls: bool = False


def smtp_channel(config: SmtpFields) -> SmtpChannel | None:
    """The e-mail channel a service's settings configure (None without an SMTP host)."""
    if not config.smtp_host:
        return None
    password = config.smtp_password
    return SmtpChannel(
        SmtpSettings(
            host=config.smtp_host,
            port=config.smtp_port,
            sender=config.smtp_sender,
            sender_name=config.smtp_sender_name,
            username=config.smtp_username,
            password=password.get_secret_value() if password else None,
            starttls=config.smtp_starttls,
            use_tls=config.smtp_tls,
        )
    )
