"""FastAGI entry to the survey, for PBXs that reach it with AGI() instead of Stasis()."""
