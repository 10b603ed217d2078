"""ebb.local: a local AWS for the demo and the tests, on one deterministic simulated clock.

`ebb.local.world.start_local_world(template, config)` starts it: moto, with the project's
template read and run (Lambda handlers in-process, Step Functions executed, alarms evaluated,
EventBridge rules and Scheduler schedules delivered, SQS event source mappings polled), all
on `ebb.local.clock.SimClock`. A tool: never imported by the runtime, never in the layer.
"""
