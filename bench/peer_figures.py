"""The peer mode's figures in the report (`bench.report`, `bench.results`): its two targets, its pairs, its
result line and its rows of RESULTS.md.

`calls_vs_peer`: our calls/s over infinity-emb's, and `calls_p50_vs_peer`: our p50 over its p50, each formed
per repeat from the two sides of the same peer round (`bench.peer`: same client, same texts, back to back)
and reported as the median of those pairs."""

from __future__ import annotations

from typing import Any

from bench.stats import meets, paired

TARGETS = {
    "calls_vs_peer": (">=", 1.2),  # synchronous calls ahead of the in-memory peer, 32 clients
    "calls_p50_vs_peer": ("<", 1.0),  # and a lower p50 than its
}


def pairs(modes: dict[str, dict]) -> dict[str, dict | None]:
    """Each repeat's two sides: ours (`ours`) against infinity-emb's (the mode's own rounds). Nothing when the
    run had no peer mode (the int8 run: the peer serves the fp32 model); None when the peer was not installed."""
    if "peer" not in modes:
        return {}
    peer = modes["peer"]
    ours = peer.get("ours") or {}

    def sides(key: str) -> list[tuple]:
        return list(zip(ours.get(key) or [], peer.get(key) or [], strict=False))

    return {"calls_vs_peer": paired(sides("rounds")), "calls_p50_vs_peer": paired(sides("rounds_p50"))}


def targets(found: dict[str, dict | None]) -> dict[str, dict[str, Any]]:
    """Each target of the pairs found with its value (their median) and whether it was met (None: not
    measured)."""
    checked = {}
    for name, (op, bound) in TARGETS.items():
        if name not in found:
            continue
        value = (found.get(name) or {}).get("median")
        checked[name] = {"value": value, "target": f"{op} {bound:g}", "met": meets(value, op, bound)}
    return checked


def line(result: dict[str, Any]) -> str:
    """The mode's result line: both sides' best round, or why nothing was measured."""
    if not result.get("installed"):
        return f"peer     not measured: {result['note']}"
    ours, peer = result["ours"], result
    version = (result.get("version") or {}).get("infinity_emb") or "?"
    return (
        f"peer     {result['clients']} clients, one text a call, the same texts: ours (/v1/embeddings, "
        f"{result['model']}) {_side(ours)}; infinity-emb {version} (/embeddings, {result['peer_model']}) "
        f"{_side(peer)}"
    )


def _side(result: dict[str, Any]) -> str:
    call, rounds = result["call_ms"], " ".join(f"{r:g}" for r in result["rounds"])
    cores = " ".join(f"{c:.1f}" for c in result.get("others_cores", []))
    return (
        f"{result['throughput']:.1f} calls/s, p50 {call['p50']:.1f} ms p99 {call['p99']:.1f} ms "
        f"(best of {len(result['rounds'])}: {rounds}; other work {cores} cores)"
    )


def version(result: dict[str, Any] | None) -> str | None:
    """The versions line's part for the peer, e.g. `infinity-emb 0.0.78 (the peer; its torch 2.13.0)`."""
    found = (result or {}).get("version") or {}
    if not found.get("infinity_emb"):
        return None
    torch = f"; its torch {found['torch']}" if found.get("torch") else ""
    return f"infinity-emb {found['infinity_emb']} (the peer{torch})"
