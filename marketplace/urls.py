from django.urls import path

from marketplace import feeds, views

app_name = "marketplace"
urlpatterns = [
    path("coaches/<int:coach_id>/", views.coach_detail, name="coach_detail"),
    path("sessions/pending/", views.pending, name="pending"),
    path("sessions/calendar/", views.calendar, name="calendar"),
    path("sessions/dashboard/", views.dashboard, name="dashboard"),
    path("calendar/feed/<str:token>.ics", feeds.calendar_feed, name="calendar_feed"),
]
