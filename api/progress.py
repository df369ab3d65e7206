"""Progress of the bulk commands: a bar (done, rate, time left) on standard error when it
is a terminal, nothing otherwise; the commands print a summary line either way."""

import contextlib
import sys
import time

import click

UPDATE_EVERY = 1000  # rows: a redraw per row would cost more than the row


@contextlib.contextmanager
def progress(label, length, position):
    """Yield `step(rows)`, to call as rows are done. `length` is the total in the unit of
    `position()` (bytes of a file, or rows); None when unknown (no bar then)."""
    if length is None or not sys.stderr.isatty():
        yield lambda rows=1: None
        return
    start = time.monotonic()
    state = {"rows": 0, "shown_rows": 0, "shown_position": 0}
    with click.progressbar(
        length=length, label=label, file=sys.stderr, item_show_func=lambda text: text
    ) as bar:

        def step(rows=1):
            state["rows"] += rows
            if state["rows"] - state["shown_rows"] < UPDATE_EVERY:
                return
            rate = state["rows"] / max(time.monotonic() - start, 1e-6)
            now = position()
            bar.update(now - state["shown_position"], f"{state['rows']:,} rows, {rate:,.0f}/s")
            state["shown_rows"], state["shown_position"] = state["rows"], now

        yield step
