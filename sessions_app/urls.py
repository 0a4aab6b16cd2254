from django.urls import path

from sessions_app import views

app_name = "sessions"
urlpatterns = [
    path("", views.session_list, name="list"),
    path("pending/", views.pending, name="pending"),
    path("calendar/", views.calendar, name="calendar"),
    path("<int:session_id>/", views.session_detail, name="detail"),
    path("<int:session_id>/survey/", views.survey, name="survey"),
    path("schedule/<int:credit_id>/", views.schedule, name="schedule"),
]
