"""EventBridge on the simulated clock: rules matched, inputs transformed, targets delivered.

moto matches rules but cannot deliver to Lambda or Step Functions, ignores a rule's state,
`Input` and `InputPath`, and never fires scheduled rules. Here every event put on a bus (by
PutEvents, by an alarm, by a stand-in, by a test) goes through `publish`: each ENABLED rule of
the bus whose pattern matches (moto's `EventPattern`) gets a delivery actor per target, which
transforms the input (EventBridge User Guide, "Transforming target input": Input, InputPath,
InputTransformer with InputPathsMap, InputTemplate and the `<aws.events.*>` variables),
delivers it, retries per the target's RetryPolicy (defaults 185 attempts / 24 h, exponential
backoff with jitter) and finally moves the event to the target's dead-letter queue with the
documented attributes. Rules with a ScheduleExpression send "Scheduled Event"s on the clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from moto.events.models import EventsBackend, Rule, events_backends

from ebb.local.clock import SimClock
from ebb.local.event_shapes import (
    compact_json,
    eventbridge_dead_letter_attributes,
    iso_seconds,
    scheduled_event,
)
from ebb.local.patches import PatchSet, PinnedAttribute
from ebb.local.randomness import SeededRandomness
from ebb.local.schedule_expressions import next_fire_time, parse_expression
from ebb.local.targets import DeliveryError, TargetInvoker, backoff_seconds

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_JSON_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']+)'\]")


@dataclass
class RuleDelivery:
    """One event delivered (or not) to one target of one rule, for assertions."""

    rule_name: str
    target_id: str
    target_arn: str
    event_id: str
    payload: Any
    outcome: str  # "delivered", "dead-lettered" or "dropped"
    attempts: int
    at: datetime
    error_code: str | None = None


@dataclass
class EventBridgeBus:
    """Event delivery for the local world; see the module docstring."""

    clock: SimClock
    randomness: SeededRandomness
    account_id: str
    region: str
    targets: TargetInvoker | None = None
    send_to_dead_letter_queue: Callable[[str, str, dict[str, dict[str, str]]], None] | None = None
    deliveries: list[RuleDelivery] = field(default_factory=list)
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _scheduled: dict[str, int] = field(default_factory=dict)
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def _backend(self) -> Any:
        return events_backends[self.account_id][self.region]

    # -- installing -------------------------------------------------------------------------

    def install(self, patches: PatchSet) -> None:
        """Route moto's PutEvents through `publish`, and arm rules created with a schedule."""
        bus = self
        pin = PinnedAttribute(
            Rule,
            "send_to_targets",
            "(self, original_event: 'EventMessageType', transform_input: 'bool' = True) -> 'None'",
        )

        def deliver(rule: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
            # moto's PutEvents hands each rule of the bus its own copy of the event.
            event = _real_shape(original_event)
            bus._note_published(rule.event_bus_name, event)
            bus._deliver_to_rule(rule, event)

        patches.replace(pin, deliver)

        def arm_new(original: Callable[..., Any]) -> Callable[..., Any]:
            def put_rule(backend: Any, name: str, **kwargs: Any) -> Any:
                rule = original(backend, name, **kwargs)
                if rule.scheduled_expression:
                    bus.arm_scheduled_rule(rule)
                return rule

            return put_rule

        put_rule_pin = PinnedAttribute(
            EventsBackend,
            "put_rule",
            "(self, name: 'str', description: 'str | None' = None, event_bus_arn: 'str | None' = None, "
            "event_pattern: 'str | None' = None, role_arn: 'str | None' = None, "
            "scheduled_expression: 'str | None' = None, state: 'str | None' = None, "
            "managed_by: 'str | None' = None, tags: 'list[dict[str, str]] | None' = None) "
            "-> 'Rule'",
        )
        patches.wrap_method(put_rule_pin, arm_new)

    def start(self) -> None:
        """Arm every scheduled rule that exists now."""
        for event_bus in self._backend().event_buses.values():
            for rule in list(event_bus.rules.values()):
                if rule.scheduled_expression:
                    self.arm_scheduled_rule(rule)

    # -- publishing -------------------------------------------------------------------------

    def _note_published(self, bus_name: str, event: dict[str, Any]) -> None:
        key = (bus_name, str(event.get("id")))
        if key not in self._seen:
            self._seen.add(key)
            self.published.append((bus_name, event))

    def publish(self, event: dict[str, Any], bus_name: str = "default") -> None:
        """Put one event (full EventBridge shape) on a bus and start its deliveries."""
        self._note_published(bus_name, event)
        event_bus = self._backend().event_buses.get(bus_name)
        if event_bus is None:
            raise LookupError(f"Event bus {bus_name} does not exist")
        for rule in list(event_bus.rules.values()):
            self._deliver_to_rule(rule, event)

    def put_event(
        self,
        *,
        source: str,
        detail_type: str,
        detail: dict[str, Any],
        resources: list[str] | None = None,
        bus_name: str = "default",
    ) -> dict[str, Any]:
        """Build an event in the real shape, publish it, and return it."""
        now = self.clock.now_datetime()
        event = {
            "version": "0",
            "id": self.randomness.uuid4(),
            "detail-type": detail_type,
            "source": source,
            "account": self.account_id,
            "time": iso_seconds(now),
            "region": self.region,
            "resources": list(resources or []),
            "detail": detail,
        }
        self.publish(event, bus_name)
        return event

    def _deliver_to_rule(self, rule: Any, event: dict[str, Any]) -> None:
        if rule.state != "ENABLED" or rule.scheduled_expression:
            return
        if not rule.event_pattern.matches_event(event):
            return
        self._start_deliveries(rule, event)

    def _start_deliveries(self, rule: Any, event: dict[str, Any]) -> None:
        received_at = self.clock.now()
        for target in list(rule.targets):
            self.clock.spawn(
                partial(self._deliver, rule, target, event, received_at),
                name=f"eventbridge {rule.name}/{target.get('Id')}",
            )

    # -- one delivery -----------------------------------------------------------------------

    def _deliver(self, rule: Any, target: dict[str, Any], event: dict[str, Any], received_at: float) -> None:
        assert self.targets is not None
        policy = target.get("RetryPolicy") or {}
        max_attempts = int(policy.get("MaximumRetryAttempts", 185))
        max_age = int(policy.get("MaximumEventAgeInSeconds", 86400))
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        attempts = 0
        payload: Any = None
        while True:
            attempts += 1
            try:
                payload = transform_input(
                    target, event, rule_arn=rule.arn, rule_name=rule.name, ingestion_time=received_at
                )
                self.targets.deliver(target["Arn"], payload, message_group_id=group)
                self._record(
                    rule, target, event, payload=payload, outcome="delivered", attempts=attempts, code=None
                )
                return
            except DeliveryError as error:
                exhausted: str | None = None
                if error.retryable:
                    if attempts > max_attempts:
                        exhausted = "MaximumRetryAttempts"
                    else:
                        delay = backoff_seconds(self.randomness, attempts)
                        if self.clock.now() + delay - received_at > max_age:
                            exhausted = "MaximumEventAgeInSeconds"
                        else:
                            self.clock.sleep(delay)
                            continue
                self._dead_letter(
                    rule, target, event, payload=payload, error=error, attempts=attempts, exhausted=exhausted
                )
                return

    def _dead_letter(
        self,
        rule: Any,
        target: dict[str, Any],
        event: dict[str, Any],
        *,
        payload: Any,
        error: DeliveryError,
        attempts: int,
        exhausted: str | None,
    ) -> None:
        queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
        if queue_arn is None or self.send_to_dead_letter_queue is None:
            self._record(
                rule, target, event, payload=payload, outcome="dropped", attempts=attempts, code=error.code
            )
            return
        attributes = eventbridge_dead_letter_attributes(
            rule_arn=rule.arn,
            target_arn=target["Arn"],
            error_code=error.code,
            error_message=error.message,
            retry_attempts=attempts - 1,
            exhausted_condition=exhausted,
        )
        self.send_to_dead_letter_queue(queue_arn, compact_json(event), attributes)
        self._record(
            rule, target, event, payload=payload, outcome="dead-lettered", attempts=attempts, code=error.code
        )

    def _record(
        self,
        rule: Any,
        target: dict[str, Any],
        event: dict[str, Any],
        *,
        payload: Any,
        outcome: str,
        attempts: int,
        code: str | None,
    ) -> None:
        self.deliveries.append(
            RuleDelivery(
                rule_name=rule.name,
                target_id=str(target.get("Id")),
                target_arn=str(target.get("Arn")),
                event_id=str(event.get("id")),
                payload=payload,
                outcome=outcome,
                attempts=attempts,
                at=self.clock.now_datetime(),
                error_code=code,
            )
        )

    # -- scheduled rules --------------------------------------------------------------------

    def arm_scheduled_rule(self, rule: Any) -> None:
        """(Re)start the timer of a rule with a ScheduleExpression."""
        generation = self._scheduled.get(rule.arn, 0) + 1
        self._scheduled[rule.arn] = generation
        expression = parse_expression(rule.scheduled_expression)
        start = self.clock.now_datetime()
        self._arm_next(rule, expression, start, start, generation)

    def _arm_next(
        self, rule: Any, expression: Any, after: datetime, start: datetime, generation: int
    ) -> None:
        due = next_fire_time(expression, after=after, start=start)
        if due is None:
            return

        def fire() -> None:
            if self._scheduled.get(rule.arn) != generation:
                return
            if rule.state == "ENABLED":
                event = scheduled_event(
                    event_id=self.randomness.uuid4(),
                    account=self.account_id,
                    region=self.region,
                    time=due,
                    rule_arn=rule.arn,
                )
                self._note_published(rule.event_bus_name, event)
                self._start_deliveries(rule, event)
            self._arm_next(rule, expression, due, start, generation)

        self.clock.call_at(due.timestamp(), fire, name=f"scheduled rule {rule.name}", daemon=True)


def _real_shape(event: dict[str, Any]) -> dict[str, Any]:
    """moto's internal event (epoch `time`, `ingestion-time`) in the shape targets receive."""
    shaped = {key: value for key, value in event.items() if key != "ingestion-time"}
    if isinstance(shaped.get("time"), (int, float)):
        shaped["time"] = iso_seconds(datetime.fromtimestamp(float(shaped["time"]), UTC))
    return shaped


def json_path(document: Any, path: str) -> tuple[bool, Any]:
    """Resolve a simple JSONPath (`$`, `$.a.b`, `$.a[0]`, `$['a']`); (found, value)."""
    if path == "$":
        return True, document
    if not path.startswith("$"):
        raise ValueError(f"{path!r} is not a JSONPath")
    value = document
    position = 1
    for match in _JSON_PATH_PART.finditer(path, 1):
        if match.start() != position:
            raise ValueError(f"{path!r} is not a simple JSONPath")
        position = match.end()
        key = match.group(1) or match.group(3)
        if key is not None:
            if not isinstance(value, dict) or key not in value:
                return False, None
            value = value[key]
        else:
            index = int(match.group(2))
            if not isinstance(value, list) or index >= len(value):
                return False, None
            value = value[index]
    if position != len(path):
        raise ValueError(f"{path!r} is not a simple JSONPath")
    return True, value


def transform_input(
    target: dict[str, Any], event: dict[str, Any], *, rule_arn: str, rule_name: str, ingestion_time: float
) -> Any:
    """What the target receives: Input, InputPath, InputTransformer, or the whole event."""
    if target.get("Input") is not None:
        return json.loads(target["Input"])
    if target.get("InputPath"):
        found, value = json_path(event, target["InputPath"])
        return value if found else None
    transformer = target.get("InputTransformer")
    if not transformer:
        return event
    variables: dict[str, Any] = {}
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        found, value = json_path(event, path)
        variables[name] = value if found else None
    variables["aws.events.rule-arn"] = rule_arn
    variables["aws.events.rule-name"] = rule_name
    variables["aws.events.event.ingestion-time"] = iso_seconds(datetime.fromtimestamp(ingestion_time, UTC))
    variables["aws.events.event"] = event
    variables["aws.events.event.json"] = event
    text = _fill_template(str(transformer["InputTemplate"]), variables)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _fill_template(template: str, variables: dict[str, Any]) -> str:
    """Replace `<name>` placeholders: raw text inside a JSON string, JSON outside one."""
    out: list[str] = []
    in_string = False
    escaped = False
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        for character in template[position : match.start()]:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = not in_string
        out.append(template[position : match.start()])
        name = match.group(1)
        if name not in variables:
            out.append(match.group(0))
        else:
            value = variables[name]
            if in_string:
                text = value if isinstance(value, str) else json.dumps(value)
                out.append(json.dumps(text)[1:-1])
            else:
                out.append(json.dumps(value))
        position = match.end()
    out.append(template[position:])
    return "".join(out)
