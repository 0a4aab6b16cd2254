from django.urls import path

from sessions_app import call_views, review_views, room_views, views

app_name = "sessions"
urlpatterns = [
    path("", views.session_list, name="list"),
    path("<int:session_id>/", views.session_detail, name="detail"),
    path("<int:session_id>/survey/", views.survey, name="survey"),
    path("schedule/<int:credit_id>/", views.schedule, name="schedule"),
    path("past/", views.past, name="past"),
    path("<int:session_id>/room/", room_views.room, name="room"),
    path("<int:session_id>/signals/", call_views.signals, name="signals"),
    path("<int:session_id>/start/", room_views.start, name="start"),
    path("<int:session_id>/join/", room_views.join, name="join"),
    path("<int:session_id>/leave/", room_views.leave, name="leave"),
    path("<int:session_id>/left/", room_views.left, name="left"),
    path("<int:session_id>/end/", room_views.end, name="end"),
    path("<int:session_id>/late/", room_views.late, name="late"),
    path("<int:session_id>/late/wait/", room_views.late_wait, name="late_wait"),
    path("<int:session_id>/confirm/", room_views.confirm, name="confirm"),
    path("<int:session_id>/report/", room_views.report, name="report"),
    path("<int:session_id>/cancel/", room_views.cancel, name="cancel"),
    path("<int:session_id>/rate/", review_views.rate, name="rate"),
    path("<int:session_id>/reply/", review_views.reply, name="reply"),
]
