"""Read /metrics as Prometheus does, for the tests that check the figures."""

from prometheus_client.parser import text_string_to_metric_families


def parse(text):
    """Prometheus' text format as {(sample name, sorted labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name, **labels):
    """One sample's value (0 when absent, as a counter not yet incremented)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
