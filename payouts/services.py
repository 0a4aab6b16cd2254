"""Payouts: every write about paying coaches.

- A coach's **balance** is the sum of their earning entries (``ledger``). A payout request
  is checked against it under a lock on the coach's row and takes its amount off at once,
  so two requests can never overdraw; a refund after a payout can leave the sum below zero,
  and the next payouts absorb it (nothing can be paid out until it is back above zero).
- A **Stripe payout** is a Transfer to the coach's Express account, sent by a task after the
  request commits, with an idempotency key from the payout's row: a task run twice, a
  resend after a lost answer, the beat's follow-up, all make one transfer. Stripe's refusal,
  or a later reversal, fails the payout and puts its amount back on the balance once; a
  partial reversal puts back what it took, once per reversal.
- Each **attempt** (a retry after a failure is a new one) names itself in its transfer's
  metadata and group; an event about another attempt's transfer is ignored, so a late
  event about the first try can never settle or fail the second. An answer that fits no
  attempt holds the payout for an admin, who resolves it by looking it up at Stripe.
- A **payout by hand** (PayPal, Wise) waits for an admin, who pays outside the site and
  records the reference here.
Events from Stripe are triggers: they are matched to our rows and compared with them."""

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from coaching.models import CoachProfile
from hse.money import format_money
from hse.states import Machine
from hse.sweeps import in_locked_batches
from hse.text import one_line
from ledger import services as ledger
from payouts import emails, stripe_connect
from payouts.models import Payout, PayoutAccount, PayoutEvent, transfer_token

log = logging.getLogger(__name__)

P = Payout.Status


class PayoutError(Exception):
    """A payout rule was broken; the message is for people."""


PAYOUT = Machine(
    transitions={
        "send": ((P.REQUESTED,), P.SENDING),  # the task hands it to Stripe
        "succeed": ((P.REQUESTED, P.SENDING, P.HELD), P.SENT),  # Stripe made the transfer
        # refused, reversed later, or an admin found no transfer at Stripe
        "fail": ((P.REQUESTED, P.SENDING, P.SENT, P.HELD), P.FAILED),
        "hold": ((P.SENDING,), P.HELD),  # Stripe's answer fits no attempt: an admin looks
        "pay_by_hand": ((P.REQUESTED,), P.PAID_BY_HAND),  # an admin paid it outside the site
        "cancel": ((P.REQUESTED,), P.CANCELLED),  # an admin cancelled it before it went
        "retry": ((P.FAILED,), P.REQUESTED),  # an admin sends a failed one again
    },
    event=PayoutEvent,
    link="payout",
    error=PayoutError,
    refused="This payout is {state}.",
)

# A Stripe payout still requested or sending this long after its last try is sent again.
FOLLOW_UP_AFTER = timedelta(minutes=5)
# Stripe forgets an idempotency key 24 hours after it was first used: an attempt first
# sent longer ago than this is looked up at Stripe before it is sent again.
KEY_MEMORY = timedelta(hours=23)


def _money(amount: int) -> str:
    return format_money(amount, settings.HSE_CURRENCY)


# --- The coach's payout account --------------------------------------------------------------


def account_for(*, coach: CoachProfile) -> PayoutAccount:
    account, _ = PayoutAccount.objects.get_or_create(coach=coach)
    return account


def _account_locked(coach: CoachProfile) -> PayoutAccount:
    account_for(coach=coach)
    return PayoutAccount.objects.select_for_update().get(coach=coach)


def manual_method_set(*, coach: CoachProfile, method: str, details: str) -> PayoutAccount:
    """PayPal or Wise details the admin pays to; later requests copy them."""
    details = one_line(details or "").strip()
    if method not in (PayoutAccount.Method.PAYPAL, PayoutAccount.Method.WISE):
        raise PayoutError("Choose PayPal or Wise.")
    if not details:
        raise PayoutError("Enter the PayPal email, or the Wise email or account details.")
    if len(details) > 200:
        raise PayoutError("Keep the details under 200 characters.")
    with transaction.atomic():
        account = _account_locked(coach)
        account.method, account.manual_details = method, details
        account.save(update_fields=["method", "manual_details", "updated_at"])
    return account


def stripe_method_choose(*, coach: CoachProfile) -> PayoutAccount:
    with transaction.atomic():
        account = _account_locked(coach)
        if not account.stripe_ready:
            raise PayoutError("Finish setting up Stripe payouts first.")
        account.method = PayoutAccount.Method.STRIPE
        account.save(update_fields=["method", "updated_at"])
    return account


def auto_weekly_set(*, coach: CoachProfile, on: bool) -> PayoutAccount:
    with transaction.atomic():
        account = _account_locked(coach)
        if on and not (account.method == PayoutAccount.Method.STRIPE and account.stripe_ready):
            raise PayoutError("Weekly payouts need Stripe payouts set up and chosen.")
        account.auto_weekly = on
        account.save(update_fields=["auto_weekly", "updated_at"])
    return account


def stripe_onboarding_start(
    *, coach: CoachProfile, return_url: str, refresh_url: str, now: datetime
) -> str:
    """The coach's Express account (made once: the key comes from the coach's payout row, so
    two clicks are one account) and the address of Stripe's onboarding for it."""
    account = account_for(coach=coach)
    account_id = account.stripe_account_id
    if not account_id:
        account_id = stripe_connect.account_create(
            email=coach.user.email, coach_id=coach.pk, country="",
            idempotency_key=f"hse-coach-{coach.pk}-connect-{account.connect_token}",
        )  # fmt: skip
        with transaction.atomic():
            account = _account_locked(coach)
            if not account.stripe_account_id:
                account.stripe_account_id = account_id
                account.onboarding_started_at = account.onboarding_started_at or now
                account.save(
                    update_fields=["stripe_account_id", "onboarding_started_at", "updated_at"]
                )
            account_id = account.stripe_account_id
    return stripe_connect.account_link(
        account_id=account_id, refresh_url=refresh_url, return_url=return_url
    )


def _account_record(account: PayoutAccount, *, payouts_enabled: bool, details_submitted: bool):
    account.stripe_payouts_enabled = payouts_enabled
    account.stripe_details_submitted = details_submitted
    fields = ["stripe_payouts_enabled", "stripe_details_submitted", "updated_at"]
    if payouts_enabled and not account.method:
        account.method = PayoutAccount.Method.STRIPE  # the first method set up is the one used
        fields.append("method")
    if not payouts_enabled and account.auto_weekly:
        account.auto_weekly = False
        fields.append("auto_weekly")
    account.save(update_fields=fields)


def stripe_account_refresh(*, coach: CoachProfile) -> PayoutAccount:
    """Back from onboarding: Stripe's word on the account now (the webhook may come later)."""
    account = PayoutAccount.objects.filter(coach=coach).first() or PayoutAccount(coach=coach)
    if not account.stripe_account_id:
        return account
    state = stripe_connect.account_state(account_id=account.stripe_account_id)
    with transaction.atomic():
        account = _account_locked(coach)
        if state.id == account.stripe_account_id:
            _account_record(
                account,
                payouts_enabled=state.payouts_enabled,
                details_submitted=state.details_submitted,
            )
    return account


@shared_task(name="payouts.account_sync")
def account_sync(account_id: str) -> bool:
    return stripe_account_sync(account_id=account_id)


def account_stripe_updated(*, account_id: str, now: datetime) -> None:
    """``account.updated`` is only a trigger: events come out of order (an old "payouts
    off" after a newer "on"), so after commit the account is read from Stripe and what
    Stripe says now is recorded. Only an account one of our coaches owns is looked at."""
    if not (account_id and PayoutAccount.objects.filter(stripe_account_id=account_id).exists()):
        log.warning("account.updated for an account no coach owns: %s", account_id)
        return
    transaction.on_commit(lambda: account_sync.delay(account_id))


def stripe_account_sync(*, account_id: str) -> bool:
    """Records Stripe's word now on one of our coaches' accounts; False when Stripe did not
    answer (the coach's return from onboarding, or the next event, reads it again)."""
    try:
        state = stripe_connect.account_state(account_id=account_id)
    except stripe_connect.ConnectUnavailable as error:
        log.warning("account %s not read from Stripe: %s", account_id, error)
        return False
    with transaction.atomic():
        account = (
            PayoutAccount.objects.select_for_update().filter(stripe_account_id=account_id).first()
        )
        if account is None or state.id != account_id:
            return False
        _account_record(
            account,
            payouts_enabled=state.payouts_enabled,
            details_submitted=state.details_submitted,
        )
    return True


# --- Requests ----------------------------------------------------------------------------


def limits_problem(amount: int, available: int) -> str:
    """Why ``amount`` cannot be paid out now, in words; "" when it can."""
    least, most = settings.HSE_PAYOUT_LIMITS
    if amount < least:
        return f"The smallest payout is {_money(least)}."
    if amount > most:
        return f"The largest payout is {_money(most)}; ask for several."
    if amount > available:
        return f"You can be paid out up to {_money(max(available, 0))} now."
    return ""


@shared_task(name="payouts.send_payout")
def send_payout(payout_id: int) -> str:
    payout = payout_send(payout_id=payout_id, now=timezone.now())
    return payout.status if payout is not None else "gone"


def _send_after_commit(payout: Payout) -> None:
    if not payout.by_hand:
        transaction.on_commit(lambda: send_payout.delay(payout.pk))


def payout_request(
    *, coach: CoachProfile, amount: int, by, now: datetime, auto_key: str | None = None
) -> Payout:
    """A payout of ``amount`` to the coach's chosen method, checked against the balance
    under the coach's lock and taken off it in the same transaction."""
    with transaction.atomic():
        balance = ledger.earnings_lock(coach=coach)
        account = _account_locked(coach)
        if not account.can_request:
            raise PayoutError("Set up how you are paid first: Stripe, PayPal or Wise.")
        problem = limits_problem(amount, balance)
        if problem:
            raise PayoutError(problem)
        stripe = account.method == PayoutAccount.Method.STRIPE
        payout = Payout.objects.create(
            coach=coach, amount=amount, currency=settings.HSE_CURRENCY, method=account.method,
            destination=account.stripe_account_id if stripe else account.manual_details,
            requested_by=by, requested_at=now, auto_key=auto_key,
        )  # fmt: skip
        PAYOUT.record(payout, "request", by=by, now=now, why="weekly" if auto_key else "asked")
        try:
            ledger.payout_debit(payout=payout, now=now)
        except ledger.InsufficientFunds as error:
            raise PayoutError(str(error)) from error
        _send_after_commit(payout)
    return payout


def _locked(payout_id: int) -> Payout | None:
    return (
        Payout.objects.select_for_update()
        .select_related("coach__user")
        .filter(pk=payout_id)
        .first()
    )


def _fail(payout: Payout, *, by=None, now: datetime, why: str) -> None:
    """Fails a locked payout, puts its money back once and tells the coach."""
    PAYOUT.move(payout, "fail", by=by, now=now, why=why[:200], failure=why[:300])
    ledger.payout_return(payout=payout, now=now, why=f"payout #{payout.pk} {why}"[:200])
    emails.payout_failed(payout=payout)


def _matches(payout: Payout, transfer: stripe_connect.Transfer) -> bool:
    """The transfer is this attempt's, for what our row says."""
    return (
        transfer.payout_ref == payout.pk
        and transfer.attempt == payout.attempt
        and transfer.amount == payout.amount
        and transfer.currency.upper() == payout.currency.upper()
        and transfer.destination == payout.destination
    )


def payout_send(*, payout_id: int, now: datetime) -> Payout | None:
    """Sends a Stripe payout's transfer and records the answer. Stripe is called outside any
    transaction, with this attempt's key, so however often this runs there is one transfer."""
    with transaction.atomic():
        payout = _locked(payout_id)
        if payout is None or payout.by_hand or payout.status not in (P.REQUESTED, P.SENDING):
            return payout
        # Resent past Stripe's memory of the key: look first, or a second transfer is made.
        look_first = payout.status == P.SENDING and (
            payout.attempt_sent_at is None or payout.attempt_sent_at <= now - KEY_MEMORY
        )
        if payout.status == P.REQUESTED:
            PAYOUT.move(
                payout, "send", now=now, why="sent to Stripe", last_attempt_at=now,
                attempt_sent_at=now,
            )  # fmt: skip
        else:
            payout.last_attempt_at = now
            payout.save(update_fields=["last_attempt_at"])
    attempt = payout.attempt
    try:
        transfer = None
        if look_first:
            transfer = _find(payout)
        if transfer is None:
            transfer = stripe_connect.transfer_create(
                amount=payout.amount, currency=payout.currency, destination=payout.destination,
                payout_id=payout.pk, attempt=attempt, transfer_group=payout.transfer_group,
                idempotency_key=payout.transfer_key,
            )  # fmt: skip
        refusal = ""
    except stripe_connect.TransferRefused as error:
        transfer, refusal = None, str(error)
    except stripe_connect.ConnectUnavailable as error:
        log.warning("payout %s not sent yet: %s", payout.pk, error)
        return payout  # stays sending; the follow-up sends it again with the same key
    with transaction.atomic():
        payout = _locked(payout_id)
        if payout.status != P.SENDING or payout.attempt != attempt:
            # Another run or a webhook recorded it first (the same transfer), or an admin
            # settled it meanwhile: a transfer Stripe made now is money nobody accounts for.
            if transfer is not None and transfer.id != payout.stripe_transfer_id:
                log.error(
                    "payout %s is %s (attempt %s) but Stripe made transfer %s for attempt %s; "
                    "check it in Stripe's dashboard",
                    payout.pk, payout.status, payout.attempt, transfer.id, attempt,
                )  # fmt: skip
            return payout
        if transfer is None:
            _fail(payout, now=now, why=refusal)
            log.warning("payout %s refused: %s", payout.pk, refusal)
        elif not _matches(payout, transfer):
            _hold(payout, now=now, why=f"Stripe answered with transfer {transfer.id}, not ours")
        elif transfer.reversed:
            payout.stripe_transfer_id = transfer.id
            _fail(payout, now=now, why="the transfer was reversed")
        else:
            _succeed(payout, transfer=transfer, now=now, why="Stripe made the transfer")
    return payout


def _find(payout: Payout) -> stripe_connect.Transfer | None:
    return stripe_connect.transfer_find(
        payout_id=payout.pk, attempt=payout.attempt, transfer_group=payout.transfer_group
    )


def _hold(payout: Payout, *, now: datetime, why: str) -> None:
    """Stops the timers on a payout whose transfer nobody can tell; an admin resolves it."""
    PAYOUT.move(payout, "hold", now=now, why=why[:200], failure=why[:300])
    log.error("payout %s held for an admin: %s", payout.pk, why)


def _succeed(payout: Payout, *, transfer, now: datetime, why: str, by=None) -> None:
    PAYOUT.move(
        payout, "succeed", by=by, now=now, why=why, settled_at=now,
        stripe_transfer_id=transfer.id, failure="",
    )  # fmt: skip
    emails.payout_sent(payout=payout)


def _partial_reversals(payout: Payout, transfer: stripe_connect.Transfer, now: datetime) -> None:
    """Part of a sent payout's transfer was taken back: each reversal's amount goes back on
    the balance once (keyed by the reversal's id), never more than the payout, and the
    coach is told."""
    returned = 0
    for reversal_id, amount in transfer.reversals:
        if ledger.payout_reversal_return(
            payout=payout, reversal_id=reversal_id, amount=amount, now=now
        ):
            returned += amount
    if returned:
        log.warning("payout %s: %s taken back by Stripe", payout.pk, returned)
        emails.payout_reversed(payout=payout, amount=returned)


def payout_transfer_reported(*, transfer: stripe_connect.Transfer, now: datetime) -> None:
    """A transfer event (created, updated, reversed): acted on only when it is the current
    attempt of one of our payouts and says what our row says (amount, currency,
    destination). An event about an earlier attempt's transfer (Stripe redelivers for days)
    is ignored: it must never settle or fail the attempt that replaced it."""
    found = Payout.objects.select_for_update().select_related("coach__user")
    payout = found.filter(stripe_transfer_id=transfer.id).first() if transfer.id else None
    if payout is None and transfer.payout_ref is not None:
        payout = found.filter(pk=transfer.payout_ref, stripe_transfer_id="").first()
    if payout is None or payout.by_hand:
        log.warning("a transfer event that is no payout of ours: %s", transfer.id)
        return
    if payout.events.filter(stripe_transfer_id=transfer.id).exists():
        log.warning(
            "transfer %s was an earlier attempt of payout %s; ignored", transfer.id, payout.pk
        )
        return
    if not _matches(payout, transfer):
        log.error("transfer %s does not match payout %s; ignored", transfer.id, payout.pk)
        return
    if transfer.reversed:
        # This attempt's transfer was made (its answer may not be in yet) and taken back.
        if payout.status in (P.REQUESTED, P.SENDING, P.SENT, P.HELD):
            payout.stripe_transfer_id = transfer.id
            _fail(payout, now=now, why="the transfer was reversed")
        return
    if payout.status in (P.REQUESTED, P.SENDING, P.HELD):
        _succeed(payout, transfer=transfer, now=now, why="Stripe reported the transfer")
    if payout.status == P.SENT and transfer.reversals:
        _partial_reversals(payout, transfer, now)


# --- The admin's desk ------------------------------------------------------------------------


def payout_mark_paid(*, payout: Payout, reference: str, by, now: datetime) -> Payout:
    """An admin paid a PayPal or Wise payout outside the site: its reference is recorded."""
    reference = one_line(reference or "").strip()
    if not reference:
        raise PayoutError("Enter the PayPal or Wise reference of the payment.")
    if len(reference) > 200:
        raise PayoutError("Keep the reference under 200 characters.")
    with transaction.atomic():
        payout = _locked(payout.pk)
        if not payout.by_hand:
            raise PayoutError("Stripe payouts are sent by Stripe, not by hand.")
        PAYOUT.move(
            payout, "pay_by_hand", by=by, now=now, why=f"paid by {by.email}: {reference}"[:200],
            reference=reference, settled_at=now,
        )  # fmt: skip
        emails.payout_sent(payout=payout)
    return payout


def payout_cancel(*, payout: Payout, by, now: datetime) -> Payout:
    """An admin cancels a payout not yet sent: its money goes back on the balance, once."""
    with transaction.atomic():
        payout = _locked(payout.pk)
        PAYOUT.move(payout, "cancel", by=by, now=now, why=f"cancelled by {by.email}")
        ledger.payout_return(payout=payout, now=now, why=f"payout #{payout.pk} cancelled")
    return payout


def payout_retry(*, payout: Payout, by, now: datetime) -> Payout:
    """An admin sends a failed payout again: a new attempt, taken off the balance again
    (refused if the balance no longer holds it) and sent with a new key. The transfer of
    the attempt it replaces is kept on the retry's event, so late events about it are
    known for what they are."""
    with transaction.atomic():
        payout = _locked(payout.pk)
        earlier = payout.stripe_transfer_id
        PAYOUT.move(
            payout, "retry", by=by, now=now, why=f"retried by {by.email}",
            attempt=payout.attempt + 1, failure="", stripe_transfer_id="",
            transfer_token=transfer_token(), attempt_sent_at=None,
        )  # fmt: skip
        if earlier:
            last = payout.events.order_by("-id").values_list("pk", flat=True)[:1]
            PayoutEvent.objects.filter(pk__in=list(last)).update(stripe_transfer_id=earlier)
        try:
            ledger.payout_debit(payout=payout, now=now)
        except ledger.InsufficientFunds as error:
            raise PayoutError(f"The coach's balance no longer holds it: {error}") from error
        _send_after_commit(payout)
    return payout


def payout_resolve(*, payout: Payout, by, now: datetime) -> Payout:
    """An admin settles a Stripe payout stuck sending or held: this attempt's transfer is
    looked up at Stripe (by its group, checked against its metadata). Found, the payout is
    sent; not found, it failed and its money goes back on the balance, once. A payout handed
    to Stripe moments ago is left alone: its transfer may still be on its way."""
    with transaction.atomic():
        payout = _locked(payout.pk)
        if payout.by_hand or payout.status not in (P.SENDING, P.HELD):
            raise PayoutError("Only Stripe payouts sending or held for an admin are resolved.")
        recent = payout.last_attempt_at and payout.last_attempt_at > now - FOLLOW_UP_AFTER
        if payout.status == P.SENDING and recent:
            raise PayoutError("It went to Stripe moments ago; look again in a few minutes.")
        attempt = payout.attempt
    try:
        transfer = _find(payout)
    except stripe_connect.ConnectUnavailable as error:
        raise PayoutError(str(error)) from error
    with transaction.atomic():
        payout = _locked(payout.pk)
        if payout.status not in (P.SENDING, P.HELD) or payout.attempt != attempt:
            raise PayoutError("It changed meanwhile; look at it again.")
        if transfer is None:
            _fail(
                payout, by=by, now=now, why="Stripe made no transfer for it (checked by an admin)"
            )
        elif not _matches(payout, transfer):
            raise PayoutError(
                f"Stripe's transfer {transfer.id} does not match it; "
                "check it in Stripe's dashboard."
            )
        elif transfer.reversed:
            payout.stripe_transfer_id = transfer.id
            _fail(payout, by=by, now=now, why="the transfer was reversed")
        else:
            _succeed(
                payout, transfer=transfer, now=now, by=by, why=f"found at Stripe by {by.email}"
            )
    return payout


# --- The timers ----------------------------------------------------------------------------


def payouts_follow_up(*, now: datetime, batch: int = 100) -> int:
    """Stripe payouts whose hand-over to the worker was lost, or whose answer from Stripe
    was, are sent again with the same key (one transfer at Stripe whatever happens)."""
    due = (
        Payout.objects.filter(method=Payout.Method.STRIPE, status__in=(P.REQUESTED, P.SENDING))
        .exclude(last_attempt_at__gt=now - FOLLOW_UP_AFTER)
        .filter(requested_at__lte=now - FOLLOW_UP_AFTER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    handled = 0
    for payout_id in list(due[:batch]):
        payout_send(payout_id=payout_id, now=now)
        handled += 1
    return handled


def auto_key(*, coach_id: int, now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"auto-{coach_id}-{year}-W{week:02d}"


def payouts_auto_weekly(*, now: datetime) -> int:
    """On the payout weekday, each coach who chose weekly Stripe payouts is paid what is
    available (up to the largest payout), once per week: the week's key is unique."""
    if now.weekday() != settings.HSE_AUTO_PAYOUT_WEEKDAY:
        return 0
    least, most = settings.HSE_PAYOUT_LIMITS
    made = 0
    accounts = PayoutAccount.objects.filter(
        auto_weekly=True, method=PayoutAccount.Method.STRIPE, stripe_payouts_enabled=True
    ).select_related("coach")
    for account in accounts.order_by("pk"):
        key = auto_key(coach_id=account.coach_id, now=now)
        if Payout.objects.filter(auto_key=key).exists():
            continue
        amount = min(ledger.earnings_balance(coach=account.coach), most)
        if amount < least:
            continue
        try:
            with transaction.atomic():
                payout_request(coach=account.coach, amount=amount, by=None, now=now, auto_key=key)
            made += 1
        except (PayoutError, IntegrityError) as error:  # paid meanwhile, or by a second run
            log.info("weekly payout of coach %s skipped: %s", account.coach_id, error)
    return made


def onboarding_reminders_due(*, now: datetime, batch: int = 200) -> int:
    """A coach who started Stripe onboarding a day ago and has not finished it is reminded,
    once; not one who has since chosen PayPal or Wise."""
    due = (
        PayoutAccount.objects.filter(
            onboarding_started_at__lte=now
            - timedelta(hours=settings.HSE_ONBOARDING_REMINDER_HOURS),
            onboarding_reminded_at__isnull=True,
            stripe_payouts_enabled=False,
            method__in=(PayoutAccount.Method.NONE, PayoutAccount.Method.STRIPE),
        )
        .exclude(stripe_account_id="")
        .order_by("pk")
    )

    def handle(accounts):
        for account in accounts:
            account.onboarding_reminded_at = now
            account.save(update_fields=["onboarding_reminded_at"])
            emails.onboarding_incomplete(account=account)
        return len(accounts)

    return in_locked_batches(due.select_related("coach__user"), handle, batch=batch)
