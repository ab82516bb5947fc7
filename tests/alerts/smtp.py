"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives or refuses on demand."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, server: SMTPServer):
        self.server = server

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        if self.server.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.server.messages.append((envelope.rcpt_tos, message))
        return "250 Message accepted for delivery"


class SMTPServer:
    def __init__(self, *, refuse: bool = False):
        self.refuse = refuse
        self.messages: list = []  # (recipients, email.message.EmailMessage)
        self.port = _free_port()  # aiosmtpd checks it started by connecting: no port 0
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def settings(self) -> dict:
        """What ``override_settings`` needs to send through it with Django's SMTP backend."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": False,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_TIMEOUT": 5,
        }

    def close(self):
        self.controller.stop()
