#!/usr/bin/env python3
"""Django's command line for 政民互动 (hudong): migrate, check --deploy, test, hudong_staff."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hudong_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
