"""Typed calls of the Scoring and Notify read APIs, and the factories of
Publisher and Watch."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterable, Optional, TypeVar

import grpc
from google.protobuf.message import Message

from rebound.v1 import (events_pb2, notify_pb2, notify_pb2_grpc, scoring_pb2,
                        scoring_pb2_grpc)

from ._conn import Tls, channel, metadata
from .errors import ReboundError
from .publisher import Publisher
from .watch import Watch

T = TypeVar("T")


class Client:
    """One tenant's view of a Rebound deployment: ingest for publishing,
    scoring for scores and draft assessments, notify for suggestions and
    insights. Give the addresses of the services the calls need. Every call
    carries `token` as `authorization: Bearer <token>`; `tls` secures every
    channel (None: plaintext, for loopback). `timeout` (s) bounds each
    unary call."""

    def __init__(self, tenant_id: str, *, ingest: Optional[str] = None,
                 scoring: Optional[str] = None, notify: Optional[str] = None,
                 token: Optional[str] = None, tls: Optional[Tls] = None,
                 timeout: float = 10.0) -> None:
        self.tenant_id = tenant_id
        self._ingest = ingest
        self._token = token
        self._tls = tls
        self._timeout = timeout
        self._metadata = metadata(token)
        self._channels: list[grpc.Channel] = []
        self._scoring: Optional[scoring_pb2_grpc.ScoringStub] = None
        self._notify: Optional[notify_pb2_grpc.NotifyStub] = None
        if scoring:
            self._channels.append(channel(scoring, tls))
            self._scoring = scoring_pb2_grpc.ScoringStub(self._channels[-1])
        if notify:
            self._channels.append(channel(notify, tls))
            self._notify = notify_pb2_grpc.NotifyStub(self._channels[-1])

    def close(self) -> None:
        """Closes the scoring and notify channels (a Publisher has its own)."""
        for c in self._channels:
            c.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def publisher(self, **options: Any) -> Publisher:
        """A Publisher to this deployment's ingest (options: see Publisher)."""
        if not self._ingest:
            raise ValueError("no ingest address given")
        return Publisher(self._ingest, token=self._token, tls=self._tls, **options)

    def watch(self, member_id: str = "", **options: Any) -> Watch:
        """Streams the member's (or, with "", the tenant's) new and changed
        suggestions (options: see Watch)."""
        return Watch(self._need(self._notify, "notify"), self._metadata,
                     self.tenant_id, member_id, **options)

    def list_suggestions(self, member_id: str,
                         states: Iterable[notify_pb2.SuggestionState] = (),
                         page_size: int = 100
                         ) -> list[notify_pb2.RetrySuggestion]:
        """Every suggestion of the member (all pages), newest first."""
        stub = self._need(self._notify, "notify")
        request = notify_pb2.ListSuggestionsRequest(
            tenant_id=self.tenant_id, member_id=member_id, states=list(states),
            page_size=page_size)
        out: list[notify_pb2.RetrySuggestion] = []
        while True:
            page = self._call(stub.ListSuggestions, request)
            out.extend(page.suggestions)
            if not page.next_page_token:
                return out
            request.page_token = page.next_page_token

    def mark_acted(self, member_id: str, suggestion_id: str) -> notify_pb2.RetrySuggestion:
        """Marks the member's suggestion acted on; idempotent (the same
        suggestion again). FAILED_PRECONDITION for a dismissed or a
        DO_NOT_RETRY one."""
        return self._call(self._need(self._notify, "notify").MarkActed,
                          self._action(member_id, suggestion_id))

    def dismiss(self, member_id: str, suggestion_id: str) -> notify_pb2.RetrySuggestion:
        """Dismisses the member's suggestion; idempotent. FAILED_PRECONDITION
        for one acted on."""
        return self._call(self._need(self._notify, "notify").Dismiss,
                          self._action(member_id, suggestion_id))

    def insights(self, member_id: str) -> notify_pb2.Insights:
        """The member's insights. notify answers NOT_FOUND (ReboundError)
        for a member it has neither scores nor suggestions of."""
        return self._call(self._need(self._notify, "notify").GetInsights,
                          notify_pb2.GetInsightsRequest(tenant_id=self.tenant_id,
                                                        member_id=member_id))

    def scores(self, member_id: str) -> scoring_pb2.MemberScores:
        """NOT_FOUND (ReboundError) when Rebound has no event about the member."""
        return self._call(self._need(self._scoring, "scoring").GetMemberScores,
                          scoring_pb2.GetMemberScoresRequest(tenant_id=self.tenant_id,
                                                             member_id=member_id))

    def assess(self, sender_id: str, recipient_id: str,
               request: events_pb2.RequestSent,
               planned_send_at: Optional[datetime] = None) -> scoring_pb2.Assessment:
        """Assesses a draft before it is sent (writes nothing)."""
        draft = scoring_pb2.AssessDraftRequest(tenant_id=self.tenant_id,
                                               sender_id=sender_id,
                                               recipient_id=recipient_id,
                                               request=request)
        if planned_send_at is not None:
            draft.planned_send_at.FromDatetime(planned_send_at)
        return self._call(self._need(self._scoring, "scoring").AssessDraft, draft)

    def _action(self, member_id: str, suggestion_id: str) -> notify_pb2.SuggestionActionRequest:
        return notify_pb2.SuggestionActionRequest(
            tenant_id=self.tenant_id, member_id=member_id, suggestion_id=suggestion_id)

    @staticmethod
    def _need(stub: Optional[T], name: str) -> T:
        if stub is None:
            raise ValueError(f"no {name} address given")
        return stub

    def _call(self, method: Callable[..., T], request: Message) -> T:
        try:
            return method(request, metadata=self._metadata, timeout=self._timeout)
        except grpc.RpcError as error:
            raise ReboundError.from_rpc_error(error) from None
