"""The two-tenant modes' part of the results (`bench.report` and `bench.results` call it): their result
lines, their per-round pairs, their targets (reported, never asserted) and their section of RESULTS.md."""

from __future__ import annotations

from typing import Any

from bench.stats import paired

TARGETS = {
    "flood_b_p50_vs_idle": ("<=", 1.2),  # B's p50 under A's flood, over B's alone, in the same round
    "flood_b_admission_vs_idle": (">=", 0.8),  # B's share admitted under A's flood, over alone
    "flood_a_refusals_429": (">=", 1.0),  # the share of A's refusals that were 429 with Retry-After
}


def pairs(modes: dict[str, dict]) -> dict[str, dict | None]:
    """B's p50 and admission under the flood against alone, each round's two phases a pair."""
    flood = modes.get("flood", {})

    def sides(name: str) -> list[tuple]:
        return list(zip(flood.get(f"rounds_flooded_{name}", []), flood.get(f"rounds_idle_{name}", []), strict=True))

    return {"flood_b_p50_vs_idle": paired(sides("p50")), "flood_b_admission_vs_idle": paired(sides("admission"))}


def targets(found: dict[str, dict | None], modes: dict[str, dict]) -> dict[str, dict[str, Any]]:
    """Each target with its value (None: not measured) and whether it was met; the fairness bound is the
    one the run's own figures imply (`bench.fairness.bound`)."""
    values = {
        name: (found.get(name) or {}).get("median") for name in ("flood_b_p50_vs_idle", "flood_b_admission_vs_idle")
    }
    a = modes.get("flood", {}).get("a")
    if a is not None:
        headers_ok = all((a.get("refusal_headers") or {}).values())
        values["flood_a_refusals_429"] = 1.0 if a["refused_not_429"] == 0 and headers_ok else 0.0
    checked = {}
    for name, (op, limit) in TARGETS.items():
        value = values.get(name)
        met = None if value is None else (value >= limit if op == ">=" else value <= limit)
        checked[name] = {"value": value, "target": f"{op} {limit:g}", "met": met}
    fairness = modes.get("fairness")
    ahead, bound = (fairness["lines_ahead"], fairness["bound"]) if fairness else (None, None)
    checked["fairness_lines_ahead"] = {
        "value": ahead,
        "target": f"<= {bound} (the keeper's bound)" if bound is not None else "<= the keeper's bound",
        "met": None if ahead is None else ahead <= bound,
    }
    return checked


def flood_line(result: dict) -> str:
    idle, flooded, a = result["idle"], result["flooded"], result["a"]
    refusal = a.get("refusal_headers") or {}
    return (
        f"flood    B p50 {idle['p50']:.1f} ms alone, {flooded['p50']:.1f} ms under A's flood "
        f"(x{result['p50_vs_idle']:g}, rounds {' '.join(f'{r:g}' for r in result['rounds'])}); "
        f"B admitted {idle['admission']:.0%} alone, "
        f"{flooded['admission']:.0%} flooded; A posted {a['posted']} ({a['posted_per_s']:g}/s), accepted "
        f"{a['accepted']} ({a['accepted_per_s']:g}/s), refused {a['refused']} ({a['refused_not_429']} not 429; "
        f"Retry-After {refusal.get('Retry-After')}, RateLimit {refusal.get('RateLimit')}); stages p50 flooded: "
        + ", ".join(f"{k.removesuffix('_p50')} {v:.1f}" for k, v in flooded["breakdown_ms"].items())
        + f" ms; cores flooded: {_tiers(result)}{_noise(result)}"
    )


def fairness_line(result: dict) -> str:
    return (
        f"fairness {result['lines_ahead']} of A's lines finished ahead of B's first (bound {result['bound']}: "
        f"{result['bound_parts']['in_flight']} in flight + {result['a_lines_per_s']:g} lines/s x "
        f"{result['bound_parts']['keeper_every_s']:g} s + {result['bound_parts']['running']} running); B's first "
        f"line {result['b_first_line_seconds']:.2f} s after its batch; B's batch done in "
        f"{result['b_completion_seconds']:.2f} s, A's in {result['a_completion_seconds']:.2f} s "
        f"(x{result['b_completion_vs_a']:g}){_noise(result)}"
    )


LINES = {"flood": flood_line, "fairness": fairness_line}
FIGURES = {"flood": lambda result: result["p50_vs_idle"], "fairness": lambda result: result["lines_ahead"]}


def _noise(result: dict) -> str:
    cores = result.get("others_cores")
    return f"; other work on the machine: {' '.join(f'{c:.1f}' for c in cores)} cores" if cores else ""


def _tiers(result: dict) -> str:
    return ", ".join(f"{tier} {cores:g}" for tier, cores in result["cores_by_tier"].items())


def section(modes: dict[str, dict]) -> list[str]:
    """RESULTS.md's lines of the two-tenant modes: what B got alone and under A's flood, what A got, where
    the time and the cores went; and the fairness figures beside the keeper's bound."""
    lines = []
    if flood := modes.get("flood"):
        idle, flooded, a = flood["idle"], flood["flooded"], flood["a"]
        lines += ["", "Two tenants, flood (the median round; bench/README.md#two-tenants):", ""]
        lines += ["| B | alone | under A's flood |", "| --- | --- | --- |"]
        lines.append(f"| admission | {idle['admission']:.0%} | {flooded['admission']:.0%} |")
        lines.append(f"| p50 / p99 ms | {idle['p50']:g} / {idle['p99']:g} | {flooded['p50']:g} / {flooded['p99']:g} |")
        for stage, value in flooded["breakdown_ms"].items():
            lines.append(f"| {stage.removesuffix('_p50')} p50 ms | {idle['breakdown_ms'][stage]:g} | {value:g} |")
        lines += [
            "",
            f"A, every round: {a['posted']} POSTs ({a['posted_per_s']:g}/s), {a['accepted']} accepted "
            f"({a['accepted_per_s']:g}/s), {a['refused']} POSTs and waits refused, {a['refused_not_429']} of them "
            f"not 429; cores while B ran under the flood: {_tiers(flood)}.",
        ]
    if fairness := modes.get("fairness"):
        parts, f = fairness["bound_parts"], fairness
        bound = (
            f"the keeper's bound: {parts['in_flight']} released at most + {f['a_lines_per_s']:g} lines/s x "
            f"{parts['keeper_every_s']:g} s to the next pass + {parts['running']} running = {f['bound']}"
        )
        lines += [
            "",
            f"Two tenants, bulk fairness: {f['lines_ahead']} of A's lines finished between B's batch creation and "
            f"B's first line ({bound}); B's first line {f['b_first_line_seconds']:g} s after its batch, B's batch "
            f"done in {f['b_completion_seconds']:g} s, A's in {f['a_completion_seconds']:g} s.",
        ]
    return lines
