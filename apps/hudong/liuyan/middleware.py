"""The client's address behind the portal's nginx."""

from django.conf import settings


class RealAddressMiddleware:
    """Behind nginx (HUDONG_BEHIND_PROXY), REMOTE_ADDR is nginx's loopback address: the client's
    is in X-Real-IP, set by nginx from the connection. Only nginx can reach gunicorn (it listens
    on loopback), so the header cannot come from anyone else. The rate limit and the staff pages'
    network check read REMOTE_ADDR."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.HUDONG_BEHIND_PROXY:
            real = request.META.get("HTTP_X_REAL_IP", "").strip()
            if real:
                request.META["REMOTE_ADDR"] = real
        return self.get_response(request)
