"""Reading the /metrics exposition: sums of samples by name and labels."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def scrape(base_url: str) -> str:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5.0) as response:
        body: bytes = response.read()
        return body.decode()


def total(text: str, sample: str, **labels: str) -> float:
    """The sum of every ``sample`` whose labels include ``labels`` (0.0 when there is none)."""
    found = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                found += s.value
    return found


def sample_names(text: str) -> set[str]:
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}
