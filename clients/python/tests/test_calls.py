"""The typed calls against the real pipeline: every page of a listing,
mark acted / dismiss (idempotent), insights, scores, assess, and errors as
ReboundError with the code and the fields the server named."""

from __future__ import annotations

from typing import Optional

import grpc
import pytest

from rebound.v1 import events_pb2, notify_pb2, scoring_pb2
from rebound_client import Client, ReboundError
from pipeline import Pipeline
from support import PROFILE, declined_pair, sent, wait_for

READY = notify_pb2.SUGGESTION_STATE_READY
ACTED = notify_pb2.SUGGESTION_STATE_ACTED
DISMISSED = notify_pb2.SUGGESTION_STATE_DISMISSED


def _suggestions(client: Client, tenant: str, member: str, n: int
                 ) -> list[notify_pb2.RetrySuggestion]:
    """Publishes n declined requests of `member`; returns the listing once
    notify made every suggestion."""
    with client.publisher() as publisher:
        for i in range(n):
            publisher.publish_many(declined_pair(tenant, member, f"{member}-r{i}", f"{member}{i}"))
    assert publisher.result.published == 2 * n

    def listing() -> Optional[list[notify_pb2.RetrySuggestion]]:
        got = client.list_suggestions(member)
        return got if len(got) == n else None

    listed = wait_for(listing)
    assert listed, f"notify did not make {n} suggestions"
    return listed


def test_list_follows_every_page_newest_first(pipeline: Pipeline) -> None:
    client = pipeline.client()
    whole = _suggestions(client, pipeline.tenant, "lia", 5)
    paged = client.list_suggestions("lia", page_size=2)  # three pages
    assert [s.suggestion_id for s in paged] == [s.suggestion_id for s in whole]
    assert sorted(s.suggestion_id for s in paged) == [f"lia{i}-d" for i in range(5)]
    created = [s.created_at.ToNanoseconds() for s in paged]
    assert created == sorted(created, reverse=True)
    for state in {s.state for s in paged}:
        assert [s.suggestion_id for s in client.list_suggestions("lia", [state], page_size=1)] \
            == [s.suggestion_id for s in paged if s.state == state]
    with pytest.raises(ReboundError) as bad:
        client.list_suggestions("lia", [notify_pb2.SUGGESTION_STATE_UNSPECIFIED])
    assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_mark_acted_and_dismiss_are_idempotent(pipeline: Pipeline) -> None:
    client = pipeline.client()
    one, two = _suggestions(client, pipeline.tenant, "mo", 2)
    assert {one.state, two.state} == {READY}
    acted = client.mark_acted("mo", one.suggestion_id)
    assert acted.state == ACTED and acted.version > one.version
    assert client.mark_acted("mo", one.suggestion_id) == acted
    dismissed = client.dismiss("mo", two.suggestion_id)
    assert dismissed.state == DISMISSED and dismissed.version > two.version
    assert client.dismiss("mo", two.suggestion_id) == dismissed
    for call, suggestion in ((client.dismiss, one), (client.mark_acted, two)):
        with pytest.raises(ReboundError) as conflict:
            call("mo", suggestion.suggestion_id)
        assert conflict.value.code == grpc.StatusCode.FAILED_PRECONDITION
    by_state = client.insights("mo").suggestions_by_state
    assert (by_state["SUGGESTION_STATE_ACTED"], by_state["SUGGESTION_STATE_DISMISSED"]) == (1, 1)
    with pytest.raises(ReboundError) as missing:
        client.mark_acted("mo", "no-such-suggestion")
    assert missing.value.code == grpc.StatusCode.NOT_FOUND


def test_insights_scores_and_assess_are_typed(pipeline: Pipeline) -> None:
    client = pipeline.client()
    t = pipeline.tenant
    with client.publisher() as publisher:
        publisher.publish_many(declined_pair(t, "ana", "ben", "q1")
                               + declined_pair(t, "ana", "cara", "q2"))
    assert wait_for(lambda: client.scores("ana").as_sender.declined == 2)
    scores = client.scores("ana")
    assert isinstance(scores, scoring_pb2.MemberScores)
    assert (scores.tenant_id, scores.member_id) == (t, "ana")
    assert (scores.as_sender.sent, scores.as_sender.declined) == (2, 2)
    assert 0 <= scores.as_sender.reputation <= 100
    assert wait_for(lambda: client.scores("ben").as_recipient.received == 1)
    with pytest.raises(ReboundError) as unknown:
        client.scores("nobody")
    assert unknown.value.code == grpc.StatusCode.NOT_FOUND

    assert wait_for(lambda: sum(client.insights("ana").suggestions_by_state.values()) == 2)
    insights = client.insights("ana")
    assert isinstance(insights, notify_pb2.Insights)
    assert sum(r.count for r in insights.decline_breakdown) == 2
    assert insights.account_safety.recent_answers.declined == 2
    assert insights.scores.as_sender.sent == 2

    draft = events_pb2.RequestSent(note="Quick call about our platform?",
                                   sender_profile=PROFILE, recipient_profile=PROFILE)
    assessment = client.assess("ana", "ben", draft)
    assert isinstance(assessment, scoring_pb2.Assessment)
    assert 0 < assessment.acceptance_probability < 1
    assert assessment.likely_reasons and assessment.classifier_version
    assert any(f.kind == 8 for f in assessment.fixes)  # ACTION_KIND_DROP_PITCH
    assert assessment.account_safety.sent_last_7_days == 2


def test_invalid_arguments_name_their_fields(pipeline: Pipeline) -> None:
    client = pipeline.client()
    draft = events_pb2.RequestSent(sender_profile=PROFILE, recipient_profile=PROFILE)
    with pytest.raises(ReboundError) as bad:
        client.assess("", "ben", draft)
    assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in bad.value.violations] == ["sender_id"]
    assert bad.value.violations[0].description
    too_long = events_pb2.RequestSent(note="x" * 301, sender_profile=PROFILE,
                                      recipient_profile=PROFILE)
    with pytest.raises(ReboundError) as note:
        client.assess("ana", "ben", too_long)
    assert [v.field for v in note.value.violations] == ["request.note"]


def test_a_wrong_token_or_tenant_is_refused(pipeline: Pipeline) -> None:
    wrong = pipeline.client(token="not-the-token")
    for call in (lambda: wrong.insights("ana"), lambda: wrong.scores("ana"),
                 lambda: wrong.list_suggestions("ana")):
        with pytest.raises(ReboundError) as denied:
            call()
        assert denied.value.code == grpc.StatusCode.UNAUTHENTICATED
    publisher = wrong.publisher()
    publisher.publish_many(declined_pair(pipeline.tenant, "a", "b", "q9"))
    with pytest.raises(ReboundError) as refused:
        publisher.close()
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert sorted(f.event_id for f in publisher.result.failed) == ["q9-d", "q9-s"]

    # The tenant's token, used for another tenant's data.
    other = Client("another-tenant", notify=pipeline.address("notify"),
                   ingest=pipeline.address("ingest"), token=pipeline.token)
    with pytest.raises(ReboundError) as foreign:
        other.insights("ana")
    assert foreign.value.code == grpc.StatusCode.PERMISSION_DENIED
    with other.publisher() as publisher:
        publisher.publish(sent("another-tenant", "o1", "a", "b", "o1"))
    assert [(r.event_id, r.field) for r in publisher.result.rejected] == [("o1", "tenant_id")]
