"""Views of the end-to-end site: each one exposes what the tests need to see through the proxy."""
import json
import os
import time

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import (
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseRedirect,
    JsonResponse,
)
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .models import Note

SERVER = os.environ.get("PORTCULLIS_E2E_SERVER", "pid-%d" % os.getpid())


def _server_fields():
    return {"server": SERVER, "pid": os.getpid()}


@require_GET
def index(request):
    meta = request.META
    return JsonResponse({
        "is_secure": request.is_secure(),
        "scheme": request.scheme,
        "absolute_uri": request.build_absolute_uri(),
        "host": request.get_host(),
        "remote_addr": meta.get("REMOTE_ADDR"),
        "x_forwarded_for": meta.get("HTTP_X_FORWARDED_FOR"),
        "x_forwarded_proto": meta.get("HTTP_X_FORWARDED_PROTO"),
        "x_forwarded_host": meta.get("HTTP_X_FORWARDED_HOST"),
        "via": meta.get("HTTP_VIA"),
        "x_request_id": meta.get("HTTP_X_REQUEST_ID"),
        **_server_fields(),
    })


def healthz(request):
    return HttpResponse("ok\n", content_type="text/plain")


def whoami(request):
    delay = float(request.GET.get("sleep", "0"))
    if delay > 0:
        time.sleep(min(delay, 5.0))
    user = request.user
    return JsonResponse({
        "user": user.get_username() if user.is_authenticated else None,
        "authenticated": user.is_authenticated,
        **_server_fields(),
    })


def echo_auth(request):
    return JsonResponse({
        "authorization": request.META.get("HTTP_AUTHORIZATION"),
        "cookie_header": request.META.get("HTTP_COOKIE"),
        "cookies": request.COOKIES,
        "x_custom": request.META.get("HTTP_X_CUSTOM"),
        **_server_fields(),
    })


def slow(request):
    seconds = min(float(request.GET.get("s", "1")), 20.0)
    time.sleep(seconds)
    return JsonResponse({"slept": seconds, **_server_fields()})


@login_required
def private(request):
    return JsonResponse({"private": True, "user": request.user.get_username(), **_server_fields()})


def page(request):
    """An HTML page with a CSRF-protected form and the app's static CSS and JS."""
    return render(request, "notes/page.html", {"server": SERVER})


def _auth_required(view):
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"error": "login required"}, status=401)
        return view(request, *args, **kwargs)
    return wrapped


@_auth_required
def notes(request):
    if request.method == "GET":
        return JsonResponse({"notes": [n.as_dict() for n in Note.objects.order_by("id")], **_server_fields()})
    if request.method == "POST":  # the form of page.html (CsrfViewMiddleware checks the token)
        title = request.POST.get("title", "")
        if not title:
            return JsonResponse({"error": "title is required"}, status=400)
        n = Note.objects.create(title=title, body=request.POST.get("body", ""))
        return JsonResponse({**n.as_dict(), **_server_fields()}, status=201)
    return JsonResponse({"error": "method not allowed"}, status=405)


@_auth_required
def note(request, note_id):
    try:
        n = Note.objects.get(id=note_id)
    except Note.DoesNotExist:
        return JsonResponse({"error": "no such note"}, status=404)
    if request.method == "GET":
        return JsonResponse({**n.as_dict(), **_server_fields()})
    if request.method == "PUT":  # JSON body, token in X-CSRFToken
        data = json.loads(request.body.decode("utf-8"))
        n.title = data.get("title", n.title)
        n.body = data.get("body", n.body)
        n.save()
        return JsonResponse({**n.as_dict(), **_server_fields()})
    if request.method == "DELETE":
        n.delete()
        return JsonResponse({"deleted": note_id, **_server_fields()})
    return JsonResponse({"error": "method not allowed"}, status=405)


def moved_permanently(request):
    return HttpResponsePermanentRedirect("/page?from=301")


def found(request):
    return HttpResponseRedirect("https://example.org/elsewhere?x=1")


def bad_request(request):
    raise SuspiciousOperation("deliberate 400 for the e2e suite")


def unauthorized(request):
    resp = HttpResponse("login first\n", status=401, content_type="text/plain")
    resp["WWW-Authenticate"] = 'Bearer realm="e2e"'
    return resp


def forbidden(request):
    raise PermissionDenied("deliberate 403 for the e2e suite")


def server_error(request):
    raise RuntimeError("deliberate 500 for the e2e suite")
