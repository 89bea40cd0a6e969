"""Asking the search function to step a search: one async invoke (InvocationType `Event`) of a
`SearchStepEvent`. The orchestrator's artifact holds no Optuna, so it never asks a round's trials
itself: submitting and retrying a search only step it here, and the search function runs
`rounds.advance` (tests install a `SearchSteps` that calls it in process)."""

from __future__ import annotations

from typing import Protocol

from sweep_contracts.search import SearchStepEvent
from sweep_orchestrator.lambda_dispatch import DispatchPolicy, LambdaDispatcher

STEP_BUDGET_S = 5.0
"""How long the API may retry a throttled step invoke: it answers within API Gateway's 30 s, and a
step that was not sent is said in the answer (`sweep retry SEARCH` sends it again)."""


class SearchSteps(Protocol):
    """Sends a search one step."""

    def step(self, search_id: str) -> str | None:
        """None once the step is handed over, else why it was not."""
        ...


class LambdaSearchSteps:
    """`SearchSteps` as an async invoke of the search function, through the dispatcher's invoke
    (its retries of throttles and transient errors, its invoker)."""

    def __init__(self, dispatcher: LambdaDispatcher, function: str, *, max_attempts: int = 3) -> None:
        self.dispatcher = dispatcher
        self.function = function
        self.policy = DispatchPolicy(concurrency=1, max_attempts=max_attempts, fanout_batch=1, budget_s=STEP_BUDGET_S)

    def step(self, search_id: str) -> str | None:
        event = SearchStepEvent(search_id=search_id)
        return self.dispatcher.invoke(self.function, event.model_dump_json(), self.policy)
