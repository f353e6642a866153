"""Fails if a dependency of a published crate declares a `rust-version` newer than the crate's
own, i.e. if the crate's `rust-version` would be a lie for a partner on that Rust.

Reads `cargo metadata` (the resolved graph, normal and build dependencies, this platform).
"""

import json
import subprocess
import sys

PUBLISHED = ["pearsana-api", "pearsana", "pearsana-sandbox", "pearsana-cli"]


def version_tuple(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


metadata = json.loads(
    subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform",
         subprocess.check_output(["rustc", "-vV"], text=True).split("host: ")[1].split()[0]],
        text=True,
    )
)
packages = {p["id"]: p for p in metadata["packages"]}
nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
failures = []
for name in PUBLISHED:
    root = next(p for p in metadata["packages"] if p["name"] == name and p["source"] is None)
    msrv = version_tuple(root["rust_version"])
    seen, stack, newer = set(), [root["id"]], []
    while stack:
        node = nodes[stack.pop()]
        for dep in node["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            if not kinds & {None, "build"} or dep["pkg"] in seen:
                continue
            seen.add(dep["pkg"])
            stack.append(dep["pkg"])
            package = packages[dep["pkg"]]
            wanted = package.get("rust_version")
            if wanted and version_tuple(wanted) > msrv:
                newer.append(f"{package['name']} {package['version']} (rust-version {wanted})")
    if newer:
        failures.append(f"{name} says rust-version {root['rust_version']} but needs: " + ", ".join(newer))
    else:
        print(f"{name}: {len(seen)} dependencies, none needs a Rust newer than {root['rust_version']}")
if failures:
    print("\n".join(failures), file=sys.stderr)
    sys.exit(1)
