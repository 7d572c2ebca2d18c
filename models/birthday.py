"""Which birthdays a daily run celebrates, shared by the birthday points and the
birthday journeys: today's, and those of the days the scheduler did not run since
the last completed run (a week at most), so that a day without scheduler (a
server down, a cron disabled for an upgrade) is caught up, not skipped."""

from datetime import timedelta

from odoo.tools import SQL

# days caught up at most after runs were missed: a greeting a week late is still
# welcome, one a month late is not
BIRTHDAY_CATCH_UP_DAYS = 7


def is_leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def catch_up_start(since, today):
    """The first day a daily run covers: the day after ``since`` (the last completed
    run), at most ``BIRTHDAY_CATCH_UP_DAYS`` days back; ``today`` without ``since``
    or when ``since`` is not before it. The expiry reminders use it too."""
    if since and since < today:
        return max(since + timedelta(days=1), today - timedelta(days=BIRTHDAY_CATCH_UP_DAYS - 1))
    return today


def birthday_days(since, today):
    """``(['MM-DD', …], [year, …])``: the birthdays celebrated on the days after
    ``since`` up to ``today`` (only ``today`` without ``since``, or when ``since``
    is not before it; at most ``BIRTHDAY_CATCH_UP_DAYS`` days) and the year each
    one falls in. 29 February is celebrated on 28 February in other years."""
    days, years = [], []
    day = catch_up_start(since, today)
    while day <= today:
        days.append(day.strftime("%m-%d"))
        years.append(day.year)
        if day.month == 2 and day.day == 28 and not is_leap(day.year):
            days.append("02-29")
            years.append(day.year)
        day += timedelta(days=1)
    return days, years


def birthday_sql(alias, days, years):
    """``(condition, year)`` SQL on the partner ``alias``: born on one of ``days``,
    and the year of that birthday (the once-a-year key)."""
    mmdd = SQL("to_char(%s.birthday, 'MM-DD')", SQL.identifier(alias))
    return (
        SQL("%s.birthday IS NOT NULL AND %s = ANY(%s::text[])", SQL.identifier(alias), mmdd, days),
        SQL("(%s::int[])[array_position(%s::text[], %s)]", years, days, mmdd),
    )
