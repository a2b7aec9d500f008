"""How far each applicant goes, from the figures of the April 2020 statement (../shared/SURGE.md).

Of the registrants, 73.85 % verified their e-mail, 43.65 % their NIK and 5.43 % joined a
training batch (uploading the photo on the way). Each arrival is given a depth from a
low-discrepancy sequence (the golden ratio's), so that even a few hundred applicants reproduce
the percentages closely instead of only on average.
"""

from __future__ import annotations

# The steps in order; an applicant of depth d completes steps 0..d.
STEPS = ("registered", "email_verified", "nik_verified", "joined_batch")
SHARES = {
    "registered": 1.0,
    "email_verified": 0.7385,
    "nik_verified": 0.4365,
    "joined_batch": 0.0543,
}
NIK_SHARE = SHARES["nik_verified"]
_GOLDEN = (5**0.5 - 1) / 2


def depth_for(k: int) -> int:
    """The funnel depth of arrival ``k``: the index in STEPS of the last step it completes."""
    u = ((k + 1) * _GOLDEN) % 1.0
    depth = 0
    for i, step in enumerate(STEPS):
        if u < SHARES[step]:
            depth = i
    return depth
