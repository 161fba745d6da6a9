"""Test hosts as network namespaces: each `Link` is a namespace joined to the root namespace by a veth pair
(10.<b>.<n>.1 on the root side, where the bed's servers also listen; 10.<b>.<n>.2 inside; <b> is 200 to 249,
from the bed's tag, so two beds do not share addresses). Traffic goes only between loopback, the root ends
and our namespaces: nothing is routed anywhere else.

Faults are a packet filter inside the namespace (an nftables table of its own, gone with the namespace), so
they touch only that host's link: `cut(ports)` drops every packet both ways (to and from the given server
ports, or all), with no reset, as a silent partition does; `lossy(percent)` drops a random share;
`slow(rate)` shapes both ends with `tc tbf`; `lift()` undoes them all."""

from __future__ import annotations

import os
import subprocess

from harness.local import run


def available() -> str | None:
    """None when namespaces and filters work here (root, `ip`, `nft`, `tc`), else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft", "tc"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode != 0:
            return f"{tool} is not installed (apt-get install iproute2 nftables)"
    return None


class Link:
    def __init__(self, role: str, index: int, tag: str):
        self.role, self.index = role, index
        self.ns = f"ibed{tag}-{role}"
        self.root_if, self.ns_if = f"ib{tag}{index}r", f"ib{tag}{index}n"
        base = f"10.{200 + int(tag) % 50}.{index}"
        self.root_ip, self.ns_ip = f"{base}.1", f"{base}.2"
        self.faults: list[str] = []

    def create(self) -> Link:
        run(["ip", "netns", "add", self.ns])
        run(["ip", "link", "add", self.root_if, "type", "veth", "peer", "name", self.ns_if, "netns", self.ns])
        run(["ip", "addr", "add", f"{self.root_ip}/30", "dev", self.root_if])
        run(["ip", "link", "set", self.root_if, "up"])
        self.exec("ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
        self.exec("ip", "link", "set", self.ns_if, "up")
        self.exec("ip", "link", "set", "lo", "up")
        self.exec("nft", "add", "table", "inet", "bed")
        for chain, hook in (("out", "output"), ("in", "input")):
            spec = f"{{ type filter hook {hook} priority 0 ; policy accept ; }}"
            self.exec("nft", "add", "chain", "inet", "bed", chain, spec)
        return self

    def exec(self, *args: str) -> subprocess.CompletedProcess:
        return run(self.prefix() + list(args), 30)

    def prefix(self) -> list[str]:
        """What runs a command inside this namespace."""
        return ["ip", "netns", "exec", self.ns]

    def _rules(self, action: str, ports: tuple[int, ...]) -> None:
        if ports:
            listed = ", ".join(str(p) for p in ports)
            out, into = f"tcp dport {{ {listed} }}", f"tcp sport {{ {listed} }}"
        else:
            out, into = "", ""
        self.exec("nft", f"add rule inet bed out oifname {self.ns_if} {out} {action}")
        self.exec("nft", f"add rule inet bed in iifname {self.ns_if} {into} {action}")

    def cut(self, *ports: int) -> None:
        """Drop every packet between this host and the servers on `ports` (all its traffic when none), both ways."""
        self._rules("drop", ports)
        self.faults.append(f"cut {ports or 'all'}")

    def lossy(self, percent: int, *ports: int) -> None:
        """Drop a random `percent` of the packets each way."""
        self._rules(f"numgen random mod 100 < {percent} drop", ports)
        self.faults.append(f"{percent}% loss")

    def slow(self, rate: str = "1mbit") -> None:
        """Shape both ends of the link to `rate` (a token bucket; the kernel here has no netem)."""
        shape = ["qdisc", "replace", "dev"]
        tbf = ["root", "tbf", "rate", rate, "burst", "32kbit", "latency", "400ms"]
        run(["tc", *shape, self.root_if, *tbf])
        self.exec("tc", *shape, self.ns_if, *tbf)
        self.faults.append(f"slow {rate}")

    def lift(self) -> None:
        """Every fault undone: the filter chains flushed, the shaping removed."""
        self.exec("nft", "flush", "chain", "inet", "bed", "out")
        self.exec("nft", "flush", "chain", "inet", "bed", "in")
        subprocess.run(["tc", "qdisc", "del", "dev", self.root_if, "root"], capture_output=True)
        subprocess.run([*self.prefix(), "tc", "qdisc", "del", "dev", self.ns_if, "root"], capture_output=True)
        self.faults.clear()

    def remove(self) -> None:
        subprocess.run(["ip", "link", "del", self.root_if], capture_output=True)  # takes its peer with it
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)


def leftovers() -> list[str]:
    """Namespaces of beds that were not taken down (a killed run), for `harness.bed down`."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split("\n")
    return [line.split()[0] for line in listed if line.startswith("ibed")]
