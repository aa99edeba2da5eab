"""Validation of the explanation methods on the user's own model: the scorecard and the verdict.

Facts in, sentences out. :mod:`.runner` measures the checks (:mod:`.exactness`, :mod:`.routing`,
:mod:`.sanity`, :mod:`.faithfulness`, :mod:`.probes`, :mod:`.stability`) on the run being
validated; :mod:`.leaks` screens every ``xai explain`` run for leaks and identifiers;
:mod:`.verdict` turns the measured facts into the sentences at the top of every report;
:mod:`.suite` is the synthetic known-answer suite (T01-T06, T08-T09, T15).
"""
