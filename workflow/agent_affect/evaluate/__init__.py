"""The evaluator for generated code: a task suite, a sandbox, verdicts, and cheating detection.

    from agent_affect.evaluate import load_suite, evaluate, evaluate_many, Verdict
    suite = load_suite()                     # resources/tasks/, by id
    verdict = evaluate(suite["parse_duration"], code)
    verdict.status, verdict.flags            # "pass" ..., ["special_casing", ...]

The prose of a response (its text outside code) has its own classifiers: `extract_code`,
`prose_flags` (acknowledges the task is impossible, gives up) and `affect_markers` (per category).
"""

from agent_affect.evaluate.prose import affect_markers, extract_code, prose_evidence, prose_flags, prose_text
from agent_affect.evaluate.sandbox import Limits, SandboxUnavailable, resolve_isolation, run_cases
from agent_affect.evaluate.tasks import TASKS, Case, Hack, Task, TaskError, load_suite
from agent_affect.evaluate.verdict import (
    FLAGS,
    STATUSES,
    Verdict,
    evaluate,
    evaluate_many,
    evaluate_response,
    matches,
)

__all__ = [
    "FLAGS",
    "STATUSES",
    "TASKS",
    "Case",
    "Hack",
    "Limits",
    "SandboxUnavailable",
    "Task",
    "TaskError",
    "Verdict",
    "affect_markers",
    "evaluate",
    "evaluate_many",
    "evaluate_response",
    "extract_code",
    "load_suite",
    "matches",
    "prose_evidence",
    "prose_flags",
    "prose_text",
    "resolve_isolation",
    "run_cases",
]
