"""Create or update a staff login: `manage.py hudong_staff NAME` with the password in the
environment (HUDONG_STAFF_PASSWORD, never on the command line). Prints 'changed' or 'unchanged'
so a deployment can tell whether it changed anything."""

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction


class Command(BaseCommand):
    help = "Create or update a staff login; the password comes from HUDONG_STAFF_PASSWORD."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, **options):
        password = os.environ.get("HUDONG_STAFF_PASSWORD", "")
        if not password:
            raise CommandError("HUDONG_STAFF_PASSWORD is empty")
        validate_password(password)
        users = get_user_model()
        with transaction.atomic():
            user, created = users.objects.get_or_create(username=options["username"])
            changed = created
            if not user.is_staff or not user.is_active:
                user.is_staff = user.is_active = True
                changed = True
            if not user.check_password(password):
                user.set_password(password)
                changed = True
            if changed:
                user.save()
        self.stdout.write("changed" if changed else "unchanged")
