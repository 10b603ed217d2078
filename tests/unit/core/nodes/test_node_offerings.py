"""The unavailable-offerings record: how an entry is added, extended and expires.

Sources: aws/karpenter-provider-aws ``pkg/cache/cache.go`` (commit 0839cc013899523b40dfd0f13edbd1580b6d78a8)
sets ``UnavailableOfferingsTTL = 3 * time.Minute``; ``pkg/cache/unavailableofferings.go``
(commit 0846b0a4a87a8482105293fe8641261fa63284dd) ``MarkUnavailable`` sets the entry again "to
extend the cached entry's TTL" and ``IsUnavailable`` is true while the entry is cached.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ebb.core.nodes.offerings import (
    DEFAULT_UNAVAILABLE_TTL,
    OfferingKey,
    UnavailableOffering,
    UnavailableOfferings,
)

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
P5 = OfferingKey(instance_group="gpu-a", instance_type="ml.p5.48xlarge", zone="us-west-2a")
G5 = OfferingKey(instance_group="gpu-b", instance_type="ml.g5.48xlarge", zone="us-west-2b")


def test_the_default_ttl_is_karpenters_three_minutes() -> None:
    assert timedelta(minutes=3) == DEFAULT_UNAVAILABLE_TTL


def test_an_entry_counts_until_its_expiry_and_not_at_it() -> None:
    record = UnavailableOfferings().mark(P5, NOW)
    assert record.is_unavailable(P5, NOW)
    assert record.is_unavailable(P5, NOW + timedelta(minutes=2, seconds=59))
    assert not record.is_unavailable(P5, NOW + timedelta(minutes=3))
    assert not record.is_unavailable(G5, NOW)
    assert record.active(NOW) == frozenset({P5})


def test_marking_again_extends_the_entry() -> None:
    record = UnavailableOfferings().mark(P5, NOW).mark(P5, NOW + timedelta(minutes=2))
    assert len(record.entries) == 1
    assert record.is_unavailable(P5, NOW + timedelta(minutes=4))
    assert not record.is_unavailable(P5, NOW + timedelta(minutes=5))


def test_marking_never_shortens_an_entry() -> None:
    record = UnavailableOfferings().mark(P5, NOW, ttl=timedelta(minutes=30)).mark(P5, NOW)
    assert record.entries[0].until == NOW + timedelta(minutes=30)


def test_prune_drops_expired_entries_and_keeps_the_rest() -> None:
    record = UnavailableOfferings().mark(P5, NOW).mark(G5, NOW + timedelta(minutes=2))
    later = NOW + timedelta(minutes=4)
    assert record.prune(later).active(later) == frozenset({G5})
    assert [e.offering for e in record.prune(later).entries] == [G5]
    assert record.next_expiry(NOW) == NOW + timedelta(minutes=3)
    assert record.next_expiry(NOW + timedelta(hours=1)) is None


def test_the_record_round_trips_through_json() -> None:
    record = UnavailableOfferings().mark(P5, NOW, reason="InsufficientInstanceCapacity").mark(G5, NOW)
    again = UnavailableOfferings.model_validate_json(record.model_dump_json())
    assert again == record
    assert "InsufficientInstanceCapacity" in str(again.entries[1]) or "InsufficientInstanceCapacity" in str(
        again.entries[0]
    )


def test_the_record_refuses_duplicates_naive_times_and_bad_ttls() -> None:
    entry = UnavailableOffering(offering=P5, until=NOW)
    with pytest.raises(ValidationError, match="same offering twice"):
        UnavailableOfferings(entries=(entry, entry))
    with pytest.raises(ValidationError, match="timezone"):
        UnavailableOffering(offering=P5, until=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="ttl must be positive"):
        UnavailableOfferings().mark(P5, NOW, ttl=timedelta(0))


def test_an_entry_says_what_it_avoids_until_when_and_why() -> None:
    """Without a reason given, a mark records the insufficient-capacity error that caused it."""
    (entry,) = UnavailableOfferings().mark(P5, NOW).entries
    assert entry.reason == "InsufficientCapacity"
    assert str(entry) == (
        "gpu-a/ml.p5.48xlarge/us-west-2a unavailable until 2025-01-06T12:03:00+00:00 (InsufficientCapacity)"
    )
