from django.urls import path

from requests_app import views

app_name = "requests"
urlpatterns = [
    path("new/", views.propose, name="propose"),
    path("<int:request_id>/", views.detail, name="detail"),
    path("<int:request_id>/accept/", views.accept, name="accept"),
    path("<int:request_id>/reject/", views.reject, name="reject"),
    path("<int:request_id>/cancel/", views.cancel, name="cancel"),
    path("<int:request_id>/adjust/", views.adjust, name="adjust"),
    path("series/<int:credit_id>/", views.series_new, name="series_new"),
    path(
        "series/session/<int:session_id>/move-rest/",
        views.series_move_rest,
        name="series_move_rest",
    ),
    path(
        "series/session/<int:session_id>/cancel-rest/",
        views.series_cancel_rest,
        name="series_cancel_rest",
    ),
]
