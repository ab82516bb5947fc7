"""Running a management command in-process and reading what it printed."""

from io import StringIO

from django.core.management import call_command


def run(name, *args):
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()
