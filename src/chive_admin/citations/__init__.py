"""Citation extraction: text from an eprint's document, then the works it cites (DOIs, arXiv ids, URLs, entries of
its reference list), normalised and de-duplicated. Pure functions: no network, no database."""
