"""政民互动: the public list of answered questions, the citizens' form, the staff pages."""

import functools
import ipaddress
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from liuyan.forms import AnswerForm, QuestionForm
from liuyan.models import Question

TEXT = "text/plain; charset=utf-8"


def _public(request, form, status=200):
    answered = Question.objects.exclude(answered_at=None).order_by("-answered_at")[:50]
    return render(request, "liuyan/index.html", {"questions": answered, "form": form,
                                                 "limit": settings.HUDONG_MAX_CHARS}, status=status)


@require_http_methods(["GET", "HEAD"])
def index(request):
    return _public(request, QuestionForm())


@require_http_methods(["GET", "HEAD", "POST"])
def submit(request):
    if request.method != "POST":
        return _public(request, QuestionForm())
    form = QuestionForm(request.POST)
    if not form.is_valid():
        return _public(request, form, status=400)
    address = request.META["REMOTE_ADDR"]
    since = timezone.now() - timedelta(hours=1)
    # the request runs in one transaction (ATOMIC_REQUESTS): the count and the insert go together
    if Question.objects.filter(address=address, created__gte=since).count() >= settings.HUDONG_RATE_LIMIT:
        return render(request, "liuyan/refused.html",
                      {"limit": settings.HUDONG_RATE_LIMIT}, status=429)
    question = form.save(commit=False)
    question.address = address
    question.save()
    return render(request, "liuyan/received.html", {"question": question})


def staff_network(view):
    """The staff pages answer the city's extranet networks only (nginx refuses everyone else
    first; this holds even if a proxy rule were wrong)."""
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            client = None
        if client is None or not any(client in ipaddress.ip_network(n)
                                     for n in settings.HUDONG_STAFF_NETWORKS):
            return HttpResponseForbidden("工作人员页面仅对本市政务外网开放。\n", content_type=TEXT)
        return view(request, *args, **kwargs)
    return wrapper


def staff_only(view):
    @staff_network
    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            return HttpResponseForbidden("仅限工作人员。\n", content_type=TEXT)
        return view(request, *args, **kwargs)
    return wrapper


@staff_only
@require_http_methods(["GET", "HEAD"])
def staff(request):
    waiting = Question.objects.filter(answered_at=None).order_by("created")
    return render(request, "liuyan/staff.html", {"questions": waiting})


@staff_only
@require_http_methods(["GET", "HEAD", "POST"])
def answer(request, pk):
    question = get_object_or_404(Question, pk=pk)
    form = AnswerForm(request.POST or None, initial={"answer": question.answer})
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            question.answer = form.cleaned_data["answer"]
            question.answered_at = timezone.now()
            question.answered_by = request.user.get_username()
            question.save(update_fields=["answer", "answered_at", "answered_by"])
        return redirect("liuyan:staff")
    return render(request, "liuyan/answer.html", {"question": question, "form": form},
                  status=400 if request.method == "POST" else 200)


def csrf_failure(request, reason=""):
    return render(request, "liuyan/csrf.html", status=403)
