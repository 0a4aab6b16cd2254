from django.urls import path

from payments import package_views, views

app_name = "payments"
urlpatterns = [
    path("coaches/<int:coach_id>/buy/", views.buy, name="buy"),
    path("coaches/<int:coach_id>/buy/checkout/", views.checkout, name="checkout"),
    path("orders/<int:order_id>/", views.order_detail, name="order_detail"),
    path("orders/<int:order_id>/cancel/", views.order_cancel, name="order_cancel"),
    path("orders/<int:order_id>/extend/", package_views.package_extend, name="package_extend"),
    path("orders/<int:order_id>/end/", package_views.package_end, name="package_end"),
    path("extensions/<int:extension_id>/", package_views.extension_detail, name="extension_detail"),
    path(
        "extensions/<int:extension_id>/answer/",
        package_views.extension_answer,
        name="extension_answer",
    ),
    path("wallet/", views.wallet, name="wallet"),
    path("wallet/top-up/", views.top_up, name="top_up"),
    path("wallet/top-up/<int:top_up_id>/cancel/", views.top_up_cancel, name="top_up_cancel"),
    path("payments/stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
