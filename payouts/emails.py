"""Emails to coaches about their payouts, each sent after the transaction commits."""

from django.urls import reverse

from hse.emails import send_email_on_commit
from hse.money import format_money


def payout_sent(*, payout) -> None:
    send_email_on_commit(
        to=payout.coach.user,
        subject=f"Payout of {format_money(payout.amount, payout.currency)} sent",
        template="payout_sent",
        context={"payout": payout, "url": reverse("payouts:statement")},
    )


def payout_failed(*, payout) -> None:
    send_email_on_commit(
        to=payout.coach.user,
        subject=f"Your payout of {format_money(payout.amount, payout.currency)} did not go through",
        template="payout_failed",
        context={"payout": payout, "url": reverse("payouts:payouts")},
    )


def payout_reversed(*, payout, amount: int) -> None:
    send_email_on_commit(
        to=payout.coach.user,
        subject=f"{format_money(amount, payout.currency)} of your payout was taken back",
        template="payout_reversed",
        context={"payout": payout, "amount": amount, "url": reverse("payouts:payouts")},
    )


def onboarding_incomplete(*, account) -> None:
    send_email_on_commit(
        to=account.coach.user,
        subject="Finish setting up your payouts",
        template="payout_onboarding_incomplete",
        context={"account": account, "url": reverse("payouts:payouts")},
    )
