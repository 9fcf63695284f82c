"""What the survey's entries (Stasis, FastAGI) and the call history share: the survey run, the dialplan's
arguments, operator naming. It imports `survey`, `db` and `config`, never an adapter."""
