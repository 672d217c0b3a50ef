"""The course's date task: human-readable dates and their ISO form."""

import datetime
import random
import re

ISO = re.compile(r"\d{4}-\d{2}-\d{2}")

MONTHS = [datetime.date(2000, m, 1).strftime("%B") for m in range(1, 13)]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _ordinal(n):
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def human_date(date, rng):
    """One human way of writing `date` (a `datetime.date`), drawn with `rng`."""
    month = MONTHS[date.month - 1]
    month = rng.choice([month, month[:3], month[:3] + ".", "Sept" if date.month == 9 else month])
    day = rng.choice([str(date.day), f"{date.day:02d}", _ordinal(date.day)])
    year = str(date.year)
    weekday = DAYS[date.weekday()]
    weekday = rng.choice([weekday, weekday[:3]])
    shapes = [
        f"{day} {month} {year}",
        f"{month} {day}, {year}",
        f"{month} {day} {year}",
        f"{weekday}, {month} {day}, {year}",
        f"{weekday} {day} {month} {year}",
        f"{weekday}, {day} {month} {year}",
        f"{day} {month}, {year}",
        f"the {_ordinal(date.day)} of {month} {year}",
        f"{_ordinal(date.day)} of {month}, {year}",
        f"{date.month}/{date.day}/{year}",  # US order with slashes
        f"{date.day:02d}.{date.month:02d}.{year}",  # European order with dots
        f"{day}-{month}-{year}",
        f"{month[:3]}. {day}, {year}",
        f"{year}-{date.month:02d}-{date.day:02d}",
        f"{year}/{date.month:02d}/{date.day:02d}",
    ]
    text = rng.choice(shapes)
    case = rng.random()
    if case < 0.25:
        text = text.lower()
    elif case < 0.35:
        text = text.upper()
    return text


def date_pairs(count, seed=0, start=1000, end=2999):
    """`count` (human-readable date, ISO date) pairs, dates drawn uniformly in [start, end]."""
    rng = random.Random(seed)
    first = datetime.date(start, 1, 1).toordinal()
    last = datetime.date(end, 12, 31).toordinal()
    pairs = []
    for _ in range(count):
        date = datetime.date.fromordinal(rng.randint(first, last))
        pairs.append((human_date(date, rng), date.isoformat()))
    return pairs


def is_iso_date(text):
    """`text` is a date of the calendar written YYYY-MM-DD ("2020-02-31" is not)."""
    if not ISO.fullmatch(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True
