"""Flags of textgen-server: their defaults in the sources and their values in an argument list."""

import dataclasses
import glob
import os
import re

# ABSL_FLAG(type, name, default, help): the default is a string literal or a
# plain value such as 20.0.
_FLAG_DEFINITION = re.compile(r'ABSL_FLAG\(\s*[\w:<>]+\s*,\s*(\w+)\s*,\s*("(?:[^"\\]|\\.)*"|[^,]+?)\s*,')
# Seconds that the server's gRPC Shutdown waits beyond --drain-timeout for
# handlers stuck writing to a client that does not read (Drain in
# server/main.cc).
SHUTDOWN_MARGIN_SECONDS = 5


class FlagError(Exception):
    """A flag is missing from the sources or has an invalid value."""


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """What a textgen-server started with some arguments listens on, and how long it drains."""

    grpc_port: int
    metrics_port: int
    drain_timeout_seconds: float


def flag_defaults(source_dir):
    """Return {flag name: default} of every ABSL_FLAG in server/*.cc, strings unquoted."""
    defaults = {}
    for path in sorted(glob.glob(os.path.join(source_dir, "server", "*.cc"))):
        with open(path, encoding="utf-8") as source:
            for name, default in _FLAG_DEFINITION.findall(source.read()):
                defaults[name] = default[1:-1] if default.startswith('"') else default
    return defaults


def flag_values(arguments, boolean_flags=frozenset()):
    """Return {flag name: value} of `--name=value` and `--name value` arguments.

    Names are normalized to underscores, because Abseil accepts both
    `--drain-timeout` and `--drain_timeout`. A flag of `boolean_flags` given
    without `=value` is "true" and takes no next argument.
    """
    values = {}
    index = 0
    while index < len(arguments):
        argument = str(arguments[index])
        index += 1
        if not argument.startswith("-"):
            continue
        name, separator, value = argument.lstrip("-").partition("=")
        name = name.replace("-", "_")
        if not separator and name in boolean_flags:
            value = "true"
        elif not separator:
            if index >= len(arguments):
                raise FlagError(f"{argument} has no value")
            value = str(arguments[index])
            index += 1
        values[name] = value
    return values


def port_of(address, flag):
    """Return the port of a HOST:PORT address, such as 0.0.0.0:50051 or [::]:50051."""
    host, separator, port = address.rpartition(":")
    if not separator or not host or not port.isdigit():
        raise FlagError(f"--{flag} is {address!r}, expected HOST:PORT")
    return int(port)


def server_settings(arguments, defaults):
    """Return the ports and drain timeout of a server started with `arguments`."""
    boolean_flags = {name for name, default in defaults.items() if default in ("true", "false")}
    values = dict(defaults)
    values.update(flag_values(arguments, boolean_flags))
    for flag in ("listen", "metrics_listen", "drain_timeout"):
        if flag not in values:
            raise FlagError(f"--{flag} is neither in the arguments nor defined in server/*.cc")
    try:
        drain_timeout = float(values["drain_timeout"])
    except ValueError:
        raise FlagError(f"--drain-timeout is {values['drain_timeout']!r}, expected seconds") from None
    return ServerSettings(grpc_port=port_of(values["listen"], "listen"),
                          metrics_port=port_of(values["metrics_listen"], "metrics-listen"),
                          drain_timeout_seconds=drain_timeout)
