"""Signed Stripe events and a running stand-in, for the payment tests."""

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.waiting import PATIENCE

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_SECRET = "whsec_test_suite"


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """The Stripe-Signature header exactly as Stripe computes it."""
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def event(event_id: str, event_type: str, obj: dict) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "data": {"object": obj},
        }
    ).encode()


def checkout_completed(reference: str, *, amount: int, payment_intent: str = "pi_test_1") -> dict:
    return {
        "id": f"cs_test_{reference}",
        "object": "checkout.session",
        "client_reference_id": reference,
        "metadata": {"reference": reference},
        "payment_status": "paid",
        "status": "complete",
        "amount_total": amount,
        "currency": "usd",
        "payment_intent": payment_intent,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StandIn:
    """The stripe_standin server in a subprocess, on a free port of 127.0.0.1."""

    def __init__(self, *options: str):
        """``options``: more of the stand-in's command-line options."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stripe_standin", "--port", str(self.port), *options],
            cwd=ROOT,
            env={**os.environ},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the Stripe stand-in did not start")

    def deliver_webhooks_to(self, url: str, secret: str = WEBHOOK_SECRET) -> None:
        import urllib.parse
        import urllib.request

        data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
        urllib.request.urlopen(f"{self.url}/_config/webhooks/hse", data=data, timeout=5)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=PATIENCE)
