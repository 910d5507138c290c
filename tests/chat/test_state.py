"""The chat's state between messages: a plain model that round-trips through JSON."""

from agent.chat.state import ChatState
from agent.fields import OPERATIONS, FieldSpec
from agent.request import FeatureRequest


def test_a_new_chat_knows_nothing_and_offers_every_operation() -> None:
    state = ChatState()
    assert state.feature is None and state.pending is None and state.fields == []
    assert state.operations == list(OPERATIONS)


def test_the_state_round_trips_through_json() -> None:
    request = FeatureRequest(
        feature="weight_log", description="Weights", requirements="kg: float >=0"
    )
    state = ChatState(
        feature="weight_log", fields=[FieldSpec(name="kg", type="float")], pending=request
    )
    assert ChatState.model_validate_json(state.model_dump_json()) == state
