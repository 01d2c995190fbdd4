#!/usr/bin/python3
"""Compare two greedy-generation JSONL files record by record.

Usage: compare_greedy.py EXPECTED.jsonl ACTUAL.jsonl

Both files must have the same number of records. For each pair of records, every field
present in both is compared, with two exceptions. `text_exact` is not compared, and
`continuation` is compared only when both records have `text_exact` true, because
otherwise at least one continuation is not the exact text of its tokens.
Prints the first difference (for a list, the first differing index) and exits with 1,
or prints a summary and exits with 0.
"""

import json
import sys


def read_records(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def describe_list_difference(expected: list, actual: list) -> str:
    for index, (expected_item, actual_item) in enumerate(zip(expected, actual)):
        if expected_item != actual_item:
            return f"first difference at index {index}: expected {expected_item!r}, got {actual_item!r}"
    return (
        f"lengths differ: expected {len(expected)} items, got {len(actual)}"
        f" (first {min(len(expected), len(actual))} items are equal)"
    )


def compare_records(record_index: int, expected: dict, actual: dict) -> list[str]:
    """Return one message per differing field of two records."""
    fields = [field for field in expected if field in actual]
    both_exact = expected.get("text_exact") is True and actual.get("text_exact") is True
    differences = []
    for field in fields:
        if field == "text_exact":
            continue
        if field == "continuation" and not both_exact:
            continue
        expected_value = expected[field]
        actual_value = actual[field]
        if expected_value == actual_value:
            continue
        if isinstance(expected_value, list) and isinstance(actual_value, list):
            detail = describe_list_difference(expected_value, actual_value)
        else:
            detail = f"expected {expected_value!r}, got {actual_value!r}"
        differences.append(f"record {record_index} (prompt {expected.get('prompt')!r}), field {field}: {detail}")
    return differences


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: compare_greedy.py EXPECTED.jsonl ACTUAL.jsonl", file=sys.stderr)
        return 2
    expected_path, actual_path = argv
    expected_records = read_records(expected_path)
    actual_records = read_records(actual_path)

    if len(expected_records) != len(actual_records):
        print(
            f"mismatch: {expected_path} has {len(expected_records)} records, {actual_path} has {len(actual_records)}",
            file=sys.stderr,
        )
        return 1

    for index, (expected, actual) in enumerate(zip(expected_records, actual_records)):
        differences = compare_records(index, expected, actual)
        if differences:
            print("mismatch: " + differences[0], file=sys.stderr)
            return 1

    print(f"all {len(expected_records)} records match")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
