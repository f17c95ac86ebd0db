from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from api import views
from api.auth import StaffTokenSerializer

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("token/", TokenObtainPairView.as_view(serializer_class=StaffTokenSerializer), name="api-token"),
    path("token/refresh/", TokenRefreshView.as_view(), name="api-token-refresh"),
    path("practice", views.PracticeView.as_view(), name="api-practice"),
    path("availability", views.AvailabilityView.as_view(), name="api-availability"),
    path("appointments", views.AppointmentsView.as_view(), name="api-appointments"),
    path("appointments/<int:pk>", views.AppointmentView.as_view(), name="api-appointment"),
    path("appointments/<int:pk>/reschedule", views.AppointmentRescheduleView.as_view(), name="api-appointment-reschedule"),
    path("appointments/<int:pk>/cancel", views.AppointmentCancelView.as_view(), name="api-appointment-cancel"),
    path("patients", views.PatientsView.as_view(), name="api-patients"),
    path("calls", views.CallsView.as_view(), name="api-calls"),
    path("calls/<int:pk>", views.CallView.as_view(), name="api-call"),
    path("messages", views.MessagesView.as_view(), name="api-messages"),
    path("messages/<int:pk>/handled", views.MessageHandledView.as_view(), name="api-message-handled"),
]
