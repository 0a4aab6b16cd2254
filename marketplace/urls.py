from django.urls import path

from marketplace import views

app_name = "marketplace"
urlpatterns = [
    path("coaches/<int:coach_id>/", views.coach_detail, name="coach_detail"),
    path("sessions/pending/", views.pending, name="pending"),
    path("sessions/calendar/", views.calendar, name="calendar"),
    path("sessions/dashboard/", views.dashboard, name="dashboard"),
]
