"""Delete the device credentials nobody picked up within the token stash's TTL.

Every request to the app already does this (``TokenStashSweepMiddleware``); run this from cron
(e.g. every minute) when the app may see no request at all for a while, so that an unclaimed
token still leaves the database within minutes.
"""

from django.core.management.base import BaseCommand

from devices import token_stash


class Command(BaseCommand):
    help = "Delete device tokens waiting for display longer than the token stash's TTL."

    def handle(self, *args, **options):
        count = token_stash.sweep()
        if options["verbosity"] >= 1:
            self.stdout.write(f"Deleted {count} unclaimed device token(s).")
