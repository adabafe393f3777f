"""The matcher: bank lines against ledger entries, scored 0-100, and the consistency checks.

Pure domain code (no I/O, no clock). ``records`` holds the inputs, the policy and the
output; ``similarity`` and ``scoring`` the score; ``candidates`` the blocking;
``groups`` the subset-sum search; ``matcher`` the run; ``rerun`` a run on top of the
previous matches; ``checks`` the consistency checks.
"""
