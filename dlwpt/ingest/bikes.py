"""Chapter 4, time series: hourly bike rentals as days (730x17x24), the book's one-hot weather and
the two alternative encodings. The hours `hour.csv` lacks are filled as the book's
`fix_missing_hours.py` made `hour-fixed.csv` (or refused); other broken days are refused."""

import logging
from datetime import date

import numpy as np
import torch

from dlwpt.ingest.common import PathLike, read_table, write_outputs
from dlwpt.io import DataError

COLUMNS = [
    "instant", "dteday", "season", "yr", "mnth", "hr", "holiday", "weekday", "workingday",
    "weathersit", "temp", "atemp", "hum", "windspeed", "casual", "registered", "cnt",
]
INSTANT, DATE, HOUR = COLUMNS.index("instant"), COLUMNS.index("dteday"), COLUMNS.index("hr")
WEATHER, TEMP = COLUMNS.index("weathersit"), COLUMNS.index("temp")
HOURS = 24
N_WEATHER = 4  # weathersit is 1 (clear) .. 4 (heavy rain/snow)


def day_of_month(cell: str) -> float:
    """The book's date converter, `float(x[8:10])`, but refusing what is not a date."""
    return float(date.fromisoformat(cell.strip()).day)


def fill_missing_hours(hourly: np.ndarray) -> tuple[np.ndarray, int]:
    """`hourly` with the rows (and their count) the book's `fix_missing_hours.py` inserts: the row
    before the gap (after it, past midnight) with the missing hour and a `cnt` of 0."""
    rows = [hourly[0]]
    for last, this in zip(hourly[:-1], hourly[1:], strict=True):
        last_hour, this_hour = int(last[HOUR]), int(this[HOUR])
        if this_hour < last_hour:
            this_hour += HOURS
        template = last
        for missing_hour in range(last_hour + 1, this_hour):
            if missing_hour == HOURS:
                template = this
            row = template.copy()
            row[-1] = 0
            row[HOUR] = missing_hour % HOURS
            rows.append(row)
        rows.append(this)
    return np.stack(rows), len(rows) - len(hourly)


def ingest_bikes(src: PathLike, out_pt: PathLike, out_json: PathLike,
                 missing_hours: str = "fill") -> None:
    """As in the book, the date column becomes the day of the month. `missing_hours`: "fill"
    (hour.csv -> exactly hour-fixed.csv) or "error" (the config schema allows no other)."""
    columns, array = read_table(src, ",", COLUMNS, converters={DATE: day_of_month})
    filled, n_filled = fill_missing_hours(array)
    if n_filled and missing_hours == "error":
        raise DataError(src, f"{n_filled} hours missing (rows do not cover every hour of every "
                             "day); missing_hours: fill fills them as hour-fixed.csv does")
    if len(filled) % HOURS:
        raise DataError(src, f"{len(filled)} hourly rows after filling is not a whole number "
                             "of days")
    days = filled.reshape(-1, HOURS, len(COLUMNS))
    out_of_order = np.flatnonzero((days[:, :, HOUR] != np.arange(HOURS)).any(axis=1))
    if len(out_of_order):
        raise DataError(src, f"day starting at instant {days[out_of_order[0], 0, INSTANT]:.0f} "
                             "does not hold hours 0..23 in order")
    bad_weather = np.flatnonzero(~np.isin(filled[:, WEATHER], np.arange(1, N_WEATHER + 1)))
    if len(bad_weather):
        row = filled[bad_weather[0]]
        raise DataError(src, f"instant {row[INSTANT]:.0f}: weathersit {row[WEATHER]:g} is not "
                             f"1..{N_WEATHER}")
    # hour-fixed.csv itself has such a day: the 2012-10-29/30 outage spans more than 24 hours,
    # which the book's script cannot see, so one "day" is 29th 00-12h + 30th 13-23h.
    mixed = [{"day": int(i), "first_instant": int(days[i, 0, INSTANT]),
              "days_of_month": sorted({int(d) for d in days[i, :, DATE]})}
             for i in np.flatnonzero((days[:, :, DATE] != days[:, :1, DATE]).any(axis=1))]
    for entry in mixed:
        logging.getLogger("dlwpt").warning("%s: day %d mixes days of month %s", src,
                                           entry["day"], entry["days_of_month"])

    hourly = torch.from_numpy(filled)
    daily = hourly.view(-1, HOURS, len(COLUMNS)).transpose(1, 2)
    daily_weather_onehot = torch.zeros(daily.shape[0], N_WEATHER, HOURS)
    daily_weather_onehot.scatter_(1, daily[:, WEATHER, :].long().unsqueeze(1) - 1, 1.0)
    daily_weather = torch.cat((daily, daily_weather_onehot), dim=1)
    weather_alt = (daily[:, WEATHER, :] - 1.0) / 3.0
    temp = daily[:, TEMP, :]
    temp_scaled = (temp - temp.min()) / (temp.max() - temp.min())
    tensors = {"hourly": hourly, "daily": daily.contiguous(), "daily_weather": daily_weather,
               "weather_alt": weather_alt, "temp_scaled": temp_scaled}
    write_outputs("bikes", out_pt, out_json, tensors, [src], columns=columns,
                  filled_hours=n_filled, mixed_date_days=mixed)
