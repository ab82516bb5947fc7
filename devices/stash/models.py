from django.db import models


class PendingCredentials(models.Model):
    """New device credentials waiting for their one display, at most ``token_stash.TTL``.

    The session holds only the random ``stash_id``; the token itself lives here, in a row any
    request's sweep deletes once ``expires_at`` has passed (see ``token_stash.sweep``).
    """

    stash_id = models.CharField(max_length=64, primary_key=True)
    device_id = models.CharField(max_length=64)
    title = models.CharField(max_length=100)
    key = models.CharField(max_length=64)
    token = models.TextField()
    url = models.CharField(max_length=500)
    org = models.CharField(max_length=200)
    bucket = models.CharField(max_length=200)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:  # never the token
        return f"credentials of {self.device_id} waiting until {self.expires_at:%H:%M:%S}"
