"""Extract the metric names that a PromQL expression selects.

A small lexer instead of a full parser: promtool checks the syntax, and this
module only has to tell metric names apart from the other identifiers of an
expression. Those are function and aggregation names, keywords, label names
inside `{...}` and in grouping clauses such as `by (le)`, durations, and
Grafana variables such as `$__rate_interval`.
"""

import re

# Aggregation operators, which may be followed by `by (...)` instead of `(`.
AGGREGATIONS = frozenset({
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
})
# Keywords that take a parenthesized list of label names.
GROUPING_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
OTHER_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"})

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<variable>\$\{[^}]*\}|\$\w+)
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<identifier>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<open_paren>\()
  | (?P<close_paren>\))
  | (?P<operator>==|!=|>=|<=|=~|!~|[-+*/%^<>=,@])
""", re.VERBOSE)

# One label matcher inside braces: name, operator, quoted value.
_MATCHER = re.compile(r"""\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*,?""")


class PromqlError(ValueError):
    """The expression cannot be split into tokens, or its names cannot be checked."""


def _tokens(expression):
    """Yield (kind, text) for each token of `expression`, spaces left out.

    Braces and brackets come out whole: `{...}` as one label_matchers token,
    `[...]` as one range token.
    """
    position = 0
    while position < len(expression):
        if expression[position] in "{[":
            closing = "}" if expression[position] == "{" else "]"
            end = _closing_index(expression, position, closing)
            kind = "label_matchers" if closing == "}" else "range"
            yield kind, expression[position + 1:end]
            position = end + 1
            continue
        match = _TOKEN.match(expression, position)
        if match is None:
            raise PromqlError(f"unexpected character {expression[position]!r} at offset {position} "
                              f"of {expression!r}")
        if match.lastgroup != "space":
            yield match.lastgroup, match.group()
        position = match.end()


def _closing_index(expression, start, closing):
    """Return the index of the `closing` character that ends the block at `start`.

    Quoted strings inside the block may contain the closing character.
    """
    position = start + 1
    while position < len(expression):
        character = expression[position]
        if character == closing:
            return position
        if character in "\"'`":
            string = _TOKEN.match(expression, position)
            if string is None or string.lastgroup != "string":
                raise PromqlError(f"unterminated string at offset {position} of {expression!r}")
            position = string.end()
            continue
        position += 1
    raise PromqlError(f"no {closing!r} closes the block at offset {start} of {expression!r}")


def _names_in_matchers(matchers, expression):
    """Return the names that `__name__` matchers inside `{...}` select."""
    names = set()
    position = 0
    while position < len(matchers):
        match = _MATCHER.match(matchers, position)
        if match is None:
            if matchers[position:].strip() == "":
                break
            # For example a quoted metric name alone ({"name"}), which
            # Prometheus 3 allows and this lexer does not read.
            raise PromqlError(f"invalid label matchers {{{matchers}}} in {expression!r}, expected "
                              'LABEL OPERATOR "VALUE" pairs')
        label, operator, quoted = match.groups()
        if label == "__name__":
            if operator != "=":
                raise PromqlError(f"{expression!r} selects metric names with {label}{operator}"
                                  f"{quoted}; only `__name__=` names can be checked")
            names.add(quoted[1:-1])
        position = match.end()
    return names


def metric_names_in(expression):
    """Return the set of series names that `expression` selects.

    Histogram series keep their suffix (`_bucket`, `_sum`, `_count`), and the
    caller maps them to the exported metric.
    """
    names = set()
    tokens = list(_tokens(expression))
    index = 0
    while index < len(tokens):
        kind, text = tokens[index]
        next_kind = tokens[index + 1][0] if index + 1 < len(tokens) else None

        if kind == "label_matchers":
            names |= _names_in_matchers(text, expression)
        elif kind == "identifier":
            lowered = text.lower()
            if lowered in GROUPING_KEYWORDS:
                if next_kind == "open_paren":
                    index = _skip_parenthesized(tokens, index + 1, expression)
            elif lowered in AGGREGATIONS or lowered in OTHER_KEYWORDS:
                pass
            elif next_kind == "open_paren":
                pass  # a function call
            else:
                names.add(text)
        index += 1
    return names


def _skip_parenthesized(tokens, open_index, expression):
    """Return the index of the `)` that closes the `(` at `open_index`."""
    depth = 0
    for index in range(open_index, len(tokens)):
        kind = tokens[index][0]
        if kind == "open_paren":
            depth += 1
        elif kind == "close_paren":
            depth -= 1
            if depth == 0:
                return index
    raise PromqlError(f"unbalanced parentheses in {expression!r}")
