"""The Neon API client the opt-in real-Neon run uses, against a local stand-in of the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.neon_api import NeonApi, NeonApiError, throwaway_branch, unique_branch_name
from tests.standins.neon_api_standin import NeonApiStandIn

KEY, PROJECT = "napi_secret_key_123", "quiet-fog-123456"


@pytest.fixture
def stand_in() -> Iterator[NeonApiStandIn]:
    with NeonApiStandIn(KEY, PROJECT) as stand_in:
        yield stand_in


def test_a_branch_is_named_uniquely_expires_and_is_deleted(stand_in: NeonApiStandIn) -> None:
    api = NeonApi(KEY, PROJECT, stand_in.url)
    with throwaway_branch(api) as branch:
        sent = stand_in.branches[branch.id]
        assert sent["name"] == branch.name
        assert branch.name.startswith("ci-todo-")
        expires = datetime.strptime(sent["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert timedelta(hours=1) < expires - datetime.now(UTC) <= timedelta(hours=2)
        assert "-pooler." in branch.pooled_uri
        assert "-pooler." not in branch.direct_uri
        assert (branch.database, branch.role) == ("neondb", "neondb_owner")
        assert stand_in.deleted == []
    assert stand_in.deleted == [branch.id]


def test_the_branch_is_deleted_when_the_tests_fail(stand_in: NeonApiStandIn) -> None:
    api = NeonApi(KEY, PROJECT, stand_in.url)
    with pytest.raises(AssertionError), throwaway_branch(api) as branch:
        raise AssertionError("a failing test run")
    assert stand_in.deleted == [branch.id]


def test_names_differ_between_runs_started_in_the_same_second() -> None:
    now = datetime.now(UTC)
    assert unique_branch_name(now) != unique_branch_name(now)


def test_a_refused_key_is_a_typed_error_without_the_key(stand_in: NeonApiStandIn) -> None:
    api = NeonApi("napi_wrong_key", PROJECT, stand_in.url)
    with (
        pytest.raises(NeonApiError, match="POST /branches: 401") as caught,
        throwaway_branch(api),
    ):
        pass  # pragma: no cover
    assert "napi_wrong_key" not in str(caught.value)
    assert stand_in.branches == {}


def test_an_unknown_project_is_reported(stand_in: NeonApiStandIn) -> None:
    with pytest.raises(NeonApiError, match="404 project not found"):
        NeonApi(KEY, "no-such-project", stand_in.url).create_branch("x", datetime.now(UTC))


def test_the_client_comes_from_the_environment_only_when_both_variables_are_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NEON_API_KEY", raising=False)
    monkeypatch.setenv("NEON_PROJECT_ID", PROJECT)
    assert NeonApi.from_environment() is None
    monkeypatch.setenv("NEON_API_KEY", KEY)
    api = NeonApi.from_environment()
    assert api is not None
    assert api.project_id == PROJECT
