from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("settings/", views.account_settings, name="settings"),
    path("settings/calendar/", views.calendar_feed_new, name="calendar_feed_new"),
]
