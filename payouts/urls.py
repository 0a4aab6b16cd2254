from django.urls import path

from payouts import views

app_name = "payouts"
urlpatterns = [
    path("earnings/", views.statement, name="statement"),
    path("earnings/statement.csv", views.statement_csv, name="statement_csv"),
    path("earnings/payouts/", views.payouts, name="payouts"),
    path("earnings/payouts/request/", views.payout_request, name="request"),
    path("earnings/payouts/by-hand/", views.method_manual, name="method_manual"),
    path("earnings/payouts/stripe/", views.stripe_setup, name="stripe_setup"),
    path("earnings/payouts/stripe/return/", views.stripe_return, name="stripe_return"),
    path("earnings/payouts/stripe/use/", views.stripe_use, name="stripe_use"),
    path("earnings/payouts/weekly/", views.auto_weekly, name="auto_weekly"),
]
