"""What each task accepts: its parameters and their types. Light: the API validates with it."""

from __future__ import annotations

from typing import Any

from inference_api.errors import InvalidRequest

PARAMETERS: dict[str, dict[str, type]] = {
    "feature-extraction": {"normalize": bool},
}


def validate_parameters(task: str, parameters: Any) -> dict[str, Any]:
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise InvalidRequest("`parameters` must be an object", field="parameters")
    allowed = PARAMETERS.get(task, {})
    unknown = sorted(set(parameters) - set(allowed))
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "none"
        raise InvalidRequest(
            f"unknown parameter(s) for {task}: {', '.join(unknown)} (accepted: {accepted})",
            field=f"parameters.{unknown[0]}",
        )
    for name, value in parameters.items():
        kind = allowed[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise InvalidRequest(f"`parameters.{name}` must be a {kind.__name__}", field=f"parameters.{name}")
    return dict(parameters)
