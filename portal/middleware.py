from django.contrib import admin

from portal.two_factor import OPEN_DURING, step_needed, step_redirect


class TwoFactorMiddleware:
    """Keeps a signed-in staff member who still owes a code (or, as an owner, an authenticator app)
    out of every admin page but the one that takes it, whichever app or helper added the page.

    Needs django_otp.middleware.OTPMiddleware before it; works on the resolved URL, so a page is
    covered by being in the admin's namespace, not by remembering to wrap it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or admin.site.name not in match.namespaces:
            return None
        step = step_needed(request)
        if step is None or match.url_name in OPEN_DURING[step]:
            return None
        return step_redirect(step, request.get_full_path())
