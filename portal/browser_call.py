"""'Talk to your receptionist': a staff member's test call from the browser.

The page speaks Twilio's media-stream protocol itself (static/receptionist/test-call.js) to the same
consumer phone calls reach; this module only opens the call and hands the page its stream token.
"""

from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from calls.services import BrowserCallRefused, browser_call_start
from calls.telephony import stream_token_issue
from tenants.models import Tenant
from tenants.selectors import staff_roles_by_tenant
from tenants.services import WRITE_ROLES, Actor, RoleRequired


def _practices(request) -> list[Tenant]:
    """The practices the user may place test calls for: a test call books real appointments."""
    practices = Tenant.objects.filter(is_active=True).order_by("name")
    if request.user.is_superuser:
        return list(practices)
    # tenants.admin.writable_tenant_ids reads the same roles; importing an admin module here is circular
    # (admin.site is built from this module).
    roles = staff_roles_by_tenant(user=request.user)
    return list(practices.filter(pk__in=[pk for pk, role in roles.items() if role in WRITE_ROLES]))


def page(request, site):
    practices = _practices(request)
    context = {
        **site.each_context(request),
        "title": "Talk to your receptionist",
        "practices": practices,
        "start_url": reverse("admin:test_call_start"),
    }
    return TemplateResponse(request, "admin/portal/test_call.html", context)


@require_POST
def start(request):
    practice = next((p for p in _practices(request) if str(p.pk) == request.POST.get("practice")), None)
    if practice is None:
        return JsonResponse({"error": "Choose one of your practices to call."}, status=400)
    try:
        call = browser_call_start(tenant=practice, actor=Actor.from_request(request),
                                  caller_number=request.POST.get("caller_number", "").strip())
    except RoleRequired as error:
        return JsonResponse({"error": str(error)}, status=403)
    except BrowserCallRefused as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse({
        "call_sid": call.call_sid,
        "stream_path": f"/media-stream/{call.pk}/",
        "token": stream_token_issue(call_id=call.pk, call_sid=call.call_sid, issued_at=call.started_at),
        "review_url": reverse("admin:calls_call_change", args=[call.pk]),
    })
