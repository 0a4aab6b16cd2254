from django.contrib import admin
from django.urls import include, path

from hse import views

admin.site.site_header = "HSE administration"
admin.site.site_title = "HSE admin"

urlpatterns = [
    path("healthz/", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("marketplace.urls")),
    path("", include("payments.urls")),
    path("", include("payouts.urls")),
    path("sessions/", include("sessions_app.urls")),
    path("requests/", include("requests_app.urls")),
    path("messages/", include("messaging.urls", namespace="messaging")),
    path("", include("coaching.urls")),
]

handler500 = "hse.views.server_error"
