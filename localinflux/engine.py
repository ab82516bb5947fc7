"""The server's state: registry, storage, the durable log, faults and counters.

Every change goes through ``Engine`` under one commit lock: the operation is appended (and fsynced)
to the WAL, then applied. The lock keeps the log order equal to the apply order, so a replay after
a crash rebuilds exactly the acknowledged state. Readers never take the commit lock.
"""

from __future__ import annotations

import json
import threading
import time

from localinflux import wal as walmod
from localinflux.delete import compile_predicate
from localinflux.faults import Faults, Stats
from localinflux.lineprotocol import parse
from localinflux.model import SeriesKey
from localinflux.permissions import operator_permissions
from localinflux.registry import (
    SYSTEM_BUCKETS,
    Authorization,
    Bucket,
    Org,
    Registry,
    User,
    auth_state,
    bucket_state,
    new_id,
    new_token,
    org_state,
    shard_group_seconds,
    user_state,
)
from localinflux.store import Store, WriteResult

_KEYCACHE_MAX = 200_000
# Compact the log at start once replaying it means this many records or bytes.
COMPACT_RECORDS = 20_000
COMPACT_BYTES = 64 * 1024 * 1024


def within_retention(points: list, min_time: int | None) -> list:
    """The points at or after ``min_time`` (all of them when there is no retention)."""
    if min_time is None:
        return points
    return [p for p in points if p[2] >= min_time]


class Engine:
    def __init__(self, data_dir: str | None = None) -> None:
        self.registry = Registry()
        self.store = Store()
        self.faults = Faults()
        self.stats = Stats()
        self.started_ns = time.time_ns()
        self.commit_lock = threading.Lock()
        # raw series key text -> (measurement, tags); shared by all requests, parse once
        self.keycache: dict[str, tuple] = {}
        self.wal = walmod.Wal(data_dir) if data_dir else None
        if self.wal is not None:
            records = self._recover()
            if records >= COMPACT_RECORDS or self.wal.size() >= COMPACT_BYTES:
                self.wal.rewrite(self._snapshot())
            self.wal.open()

    # -- durability ------------------------------------------------------------------------------

    def _recover(self) -> int:
        records = 0
        for kind, payload in self.wal.replay():
            records += 1
            if kind == walmod.WRITE:
                bucket_id, precision, now, body, min_time = walmod.read_write_payload(payload)
                points, _ = parse(body.decode("utf-8", "replace"), precision, now, self.keycache)
                # The same filter as when it was acknowledged, so a replay stores what it stored.
                self.store.write(bucket_id, within_retention(points, min_time))
            elif kind == walmod.DELETE:
                op = json.loads(payload)
                self.store.delete(
                    op["bucket"], op["start"], op["stop"], compile_predicate(op["predicate"])
                )
            elif kind == walmod.META:
                op = json.loads(payload)
                self.registry.apply(op)
                if op["op"] == "del_bucket":
                    self.store.drop_bucket(op["id"])
            elif kind == walmod.SERIES:
                op = json.loads(payload)
                key = SeriesKey(op["m"], tuple((k, v) for k, v in op["tags"]), op["f"])
                self.store.load_series(op["bucket"], key, op["type"], op["times"], op["values"])
        return records

    def _snapshot(self):
        """The current state as log records: registry objects, then every series' points."""
        reg = self.registry

        def meta(op: str, obj: dict) -> tuple[int, bytes]:
            return walmod.META, json.dumps({"op": op, "obj": obj}).encode()

        for org in list(reg.orgs.values()):
            yield meta("put_org", org_state(org))
        for user in list(reg.users.values()):
            yield meta("put_user", user_state(user))
        for bucket in list(reg.buckets.values()):
            yield meta("put_bucket", bucket_state(bucket))
        for auth in list(reg.auths.values()):
            yield meta("put_auth", auth_state(auth))
        for bucket_id, s, times, values in self.store.dump():
            run = {
                "bucket": bucket_id,
                "m": s.key.measurement,
                "tags": s.key.tags,
                "f": s.key.field,
                "type": s.ftype,
                "times": list(times),
                "values": list(values),
            }
            yield walmod.SERIES, json.dumps(run, separators=(",", ":")).encode()

    def close(self) -> None:
        if self.wal is not None:
            with self.commit_lock:
                self.wal.close()

    def commit_meta(self, op: dict) -> None:
        with self.commit_lock:
            if self.wal is not None:
                self.wal.append_json(walmod.META, op)
            self.registry.apply(op)
            if op["op"] == "del_bucket":
                self.store.drop_bucket(op["id"])

    def commit_write(
        self,
        bucket_id: str,
        precision: str,
        now_ns: int,
        body: bytes,
        points: list,
        *,
        retention_seconds: int = 0,
    ) -> WriteResult:
        """Store the parsed ``points`` of ``body``, minus those older than the retention.

        The log keeps the body and the oldest time kept; a replay parses the body again and
        applies the same cut, then the same type checks in the same order, so it stores exactly
        the points this call stored (a 422 partial write stays partial).
        """
        min_time = now_ns - retention_seconds * 1_000_000_000 if retention_seconds else None
        kept = within_retention(points, min_time)
        with self.commit_lock:
            if self.wal is not None and kept:
                self.wal.append(
                    walmod.WRITE,
                    walmod.write_payload(bucket_id, precision, now_ns, body, min_time=min_time),
                )
            result = self.store.write(bucket_id, kept)
        result.expired = len(points) - len(kept)
        return result

    def commit_delete(self, bucket_id: str, start: int, stop: int, predicate: str) -> int:
        matcher = compile_predicate(predicate)
        with self.commit_lock:
            if self.wal is not None:
                self.wal.append_json(
                    walmod.DELETE,
                    {"bucket": bucket_id, "start": start, "stop": stop, "predicate": predicate},
                )
            return self.store.delete(bucket_id, start, stop, matcher)

    def parse_lines(self, text: str, precision: str, now_ns: int):
        if len(self.keycache) > _KEYCACHE_MAX:
            self.keycache.clear()
        return parse(text, precision, now_ns, self.keycache)

    # -- metadata helpers ------------------------------------------------------------------------

    def create_org(self, name: str, description: str = "") -> Org:
        now = time.time_ns()
        org = Org(id=new_id(), name=name, description=description, created=now, updated=now)
        self.commit_meta({"op": "put_org", "obj": org_state(org)})
        for bucket_name, seconds in SYSTEM_BUCKETS:
            self.create_bucket(org.id, bucket_name, every_seconds=seconds, type="system")
        return self.registry.orgs[org.id]

    def create_bucket(
        self,
        org_id: str,
        name: str,
        *,
        every_seconds: int = 0,
        shard_seconds: int = 0,
        description: str = "",
        rp: str = "",
        type: str = "user",
    ) -> Bucket:
        now = time.time_ns()
        bucket = Bucket(
            id=new_id(),
            org_id=org_id,
            name=name,
            type=type,
            description=description,
            rp=rp,
            every_seconds=every_seconds,
            shard_seconds=shard_seconds or shard_group_seconds(every_seconds),
            created=now,
            updated=now,
        )
        self.commit_meta({"op": "put_bucket", "obj": bucket_state(bucket)})
        return self.registry.buckets[bucket.id]

    def put_org(self, org: Org) -> None:
        self.commit_meta({"op": "put_org", "obj": org_state(org)})

    def put_bucket(self, bucket: Bucket) -> None:
        self.commit_meta({"op": "put_bucket", "obj": bucket_state(bucket)})

    def delete_bucket(self, bucket_id: str) -> None:
        self.commit_meta({"op": "del_bucket", "id": bucket_id})

    def create_user(self, name: str) -> User:
        user = User(id=new_id(), name=name, created=time.time_ns())
        self.commit_meta({"op": "put_user", "obj": user_state(user)})
        return self.registry.users[user.id]

    def put_auth(self, auth: Authorization) -> None:
        self.commit_meta({"op": "put_auth", "obj": auth_state(auth)})

    def delete_auth(self, auth_id: str) -> None:
        self.commit_meta({"op": "del_auth", "id": auth_id})

    def create_auth(
        self,
        org_id: str,
        user_id: str,
        permissions: list,
        *,
        description: str = "",
        status: str = "active",
        token: str | None = None,
    ) -> Authorization:
        now = time.time_ns()
        auth = Authorization(
            id=new_id(),
            token=token or new_token(),
            org_id=org_id,
            user_id=user_id,
            permissions=list(permissions),
            status=status,
            description=description,
            created=now,
            updated=now,
        )
        self.put_auth(auth)
        return self.registry.auths[auth.id]

    def onboard(
        self,
        *,
        username: str,
        org: str,
        bucket: str,
        retention_seconds: int = 0,
        token: str | None = None,
    ) -> tuple[User, Org, Bucket, Authorization]:
        """What ``POST /api/v2/setup`` does once validated: user, org, bucket, operator token."""
        user = self.create_user(username)
        org_obj = self.create_org(org)
        bucket_obj = self.create_bucket(org_obj.id, bucket, every_seconds=retention_seconds)
        auth = self.create_auth(
            org_obj.id,
            user.id,
            operator_permissions(),
            description=f"{username}'s Token",
            token=token,
        )
        return user, org_obj, bucket_obj, auth
