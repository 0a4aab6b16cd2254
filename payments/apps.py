from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        from payments.services import order_expire_for_lapsed_hold
        from sessions_app.signals import hold_lapsed

        def lapsed(sender, session, now, **kwargs):
            order_expire_for_lapsed_hold(session=session, now=now)

        hold_lapsed.connect(lapsed, dispatch_uid="payments.order_expires_with_its_hold")
