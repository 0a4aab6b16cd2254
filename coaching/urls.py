from django.urls import path

from coaching import busy_views, views

app_name = "coaching"
urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("coach/profile/", views.profile_edit, name="profile_edit"),
    path("coach/profile/offers/", views.offers_edit, name="offers_edit"),
    path("coach/availability/", views.availability, name="availability"),
    path("coach/availability/windows/add/", views.window_add, name="window_add"),
    path(
        "coach/availability/windows/<int:window_id>/remove/",
        views.window_remove,
        name="window_remove",
    ),
    path("coach/availability/time-off/add/", views.time_off_add, name="time_off_add"),
    path(
        "coach/availability/calendars/add/",
        busy_views.busy_calendar_add_view,
        name="busy_calendar_add",
    ),
    path(
        "coach/availability/calendars/<int:calendar_id>/remove/",
        busy_views.busy_calendar_remove_view,
        name="busy_calendar_remove",
    ),
    path(
        "coach/availability/time-off/<int:time_off_id>/remove/",
        views.time_off_remove,
        name="time_off_remove",
    ),
]
