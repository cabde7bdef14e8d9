"""Identity → customer id, remembered by the process: a known sender's message skips the identity ``GET``.

Safe because the ingest script checks what a stale entry could get wrong:

- the customer was merged into another: the script answers ``moved`` with the
  survivor, and ingest stores the message there (and remembers the survivor);
- the customer was erased, or is being erased: a cached id is only trusted
  while its customer exists and is not marked ``erasing``; otherwise the
  script answers ``gone`` and ingest asks Redis who owns the identity now, so
  a stale entry never recreates an erased customer.

An identity is never given to another customer without one of those (a link
to another customer merges the two). Bounded: past ``max_entries`` the oldest
half is dropped (a dict keeps insertion order), so memory stays flat under
any number of senders.
"""

from __future__ import annotations

from conversations.models import CustomerId

DEFAULT_ENTRIES = 100_000  # ~15 MB at most in a web process


class IdentityCache:
    def __init__(self, max_entries: int = DEFAULT_ENTRIES) -> None:
        self.max_entries = max_entries
        self._owners: dict[str, CustomerId] = {}

    def get(self, identity_key: str) -> CustomerId | None:
        return self._owners.get(identity_key)

    def remember(self, identity_key: str, customer_id: CustomerId) -> None:
        if self.max_entries <= 0:
            return
        if identity_key not in self._owners and len(self._owners) >= self.max_entries:
            for old in list(self._owners)[: max(1, self.max_entries // 2)]:
                del self._owners[old]
        self._owners[identity_key] = customer_id

    def forget(self, identity_key: str) -> None:
        self._owners.pop(identity_key, None)

    def __len__(self) -> int:
        return len(self._owners)
