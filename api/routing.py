"""Person ids in URLs: one spelling per id, checked by the URL rule itself.

Werkzeug's `int` converter accepts leading zeros and any Unicode digit, so `/01671` and
the same id in fullwidth or Arabic-Indic digits all reached person 1671: rules in a
proxy, firewall or cache that match URLs could be bypassed, and logs and metrics saw
several paths for one record. Its `max` is checked only after the method is, so an id
out of range answered 405 (from the rules for the other methods) instead of 404.

This converter's pattern matches exactly the canonical ids: ASCII digits, no leading zero
(`0` itself allowed), 0 to MAX_ID. Any other spelling matches no rule, whatever the method,
so it is a 404.
"""

from werkzeug.routing import BaseConverter

# The primary key is a 32-bit integer on both databases.
MAX_ID = 2_147_483_647


def decimal_range_pattern(maximum):
    """A regular expression for the canonical decimal numbers from 0 to `maximum`."""
    digits = str(maximum)
    alternatives = ["0"]
    if len(digits) > 1:  # shorter numbers than the maximum: any, without a leading zero
        alternatives.append(f"[1-9][0-9]{{0,{len(digits) - 2}}}")
    # As long as the maximum: its first digits, then a smaller digit, then any digits.
    for position, digit in enumerate(digits):
        lowest = 1 if position == 0 else 0
        if int(digit) > lowest:
            rest = len(digits) - position - 1
            alternatives.append(f"{digits[:position]}[{lowest}-{int(digit) - 1}][0-9]{{{rest}}}")
    if maximum > 0:
        alternatives.append(digits)
    return "|".join(alternatives)


class IdConverter(BaseConverter):
    """`<id:person_id>`: a canonical id from 0 to MAX_ID, as an int."""

    regex = f"(?:{decimal_range_pattern(MAX_ID)})"

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(int(value))
