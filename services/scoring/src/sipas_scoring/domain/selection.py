"""Choosing which stored slices make a figure: period, collection modes, instrument.

A figure is always a sum of whole slices, so "what was counted" is a list of slice keys
that anyone can re-add from the stored counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from sipas_contracts.instrument import Catalogue, CatalogueError, load_catalogue
from sipas_scoring.domain import ProfileError
from sipas_scoring.domain.periods import Period
from sipas_scoring.domain.profile import ProfileSettings, check_against
from sipas_scoring.domain.tally import SliceKey, Tally

Leaves = dict[str, dict[str, Tally]]
"""Tallies by unit, then by applicant kind."""


def by_unit_and_kind(
    tallies: Mapping[SliceKey, Tally],
    period: Period,
    modes: Iterable[str],
    instrument_id: str | None = None,
) -> Leaves:
    """Sum the slices of ``period`` and ``modes`` (and one instrument) per unit and kind."""
    wanted = set(modes)
    out: Leaves = {}
    for key, tally in tallies.items():
        if key.collection_mode not in wanted or not period.contains(key.bucket):
            continue
        if instrument_id is not None and key.instrument_id != instrument_id:
            continue
        out.setdefault(key.unit, {}).setdefault(key.applicant_kind, Tally()).add(tally)
    return out


def instrument_of(tallies: Iterable[SliceKey], profile: ProfileSettings) -> Catalogue:
    """The campaign's instrument: the profile's, else the single one in its data."""
    seen = sorted({key.instrument_id for key in tallies})
    chosen = profile.instrument_id
    if chosen is None:
        if len(seen) > 1:
            msg = (
                f"instrument_id: the campaign's responses use {', '.join(seen)}; "
                "set instrument_id in the campaign profile to choose one"
            )
            raise ProfileError(msg)
        if not seen:
            msg = "instrument_id: the campaign has no responses yet and no instrument set"
            raise ProfileError(msg)
        chosen = seen[0]
    try:
        catalogue = load_catalogue(chosen)
    except CatalogueError as exc:
        raise ProfileError(f"instrument_id: {exc}") from exc
    check_against(profile, catalogue)
    return catalogue


def reference_date(
    profile: ProfileSettings, period: Period, buckets: Iterable[str], today: date
) -> date:
    """The hierarchy date for roll-ups: the profile's, else the period's last day."""
    if profile.hierarchy_date is not None:
        return profile.hierarchy_date
    last = period.last_day(buckets)
    return last if last is not None else today
