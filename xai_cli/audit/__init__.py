"""``xai audit`` and ``xai diff``: rules over explanation reports, their statuses and outputs.

* :mod:`.outcome`: the statuses and the frozen :class:`~.outcome.RuleResult`.
* :mod:`.rules`: one pure function per rule type, over a report document (and probe results).
* :mod:`.probes`: the computations that need the model and the rows: the noise floor
  (held-out permutation against a random probe) and bootstrap stability.
* :mod:`.diff`: how the explanations changed between two saved reports (``xai diff``, drift).
* :mod:`.runner`: reads the config's ``audit:`` section, runs the jobs and evaluates the rules.
* :mod:`.junit`, :mod:`.markdown`: renderers of the audit document (they recompute nothing).
"""

from xai_cli.audit.outcome import STATUSES, RuleResult, exit_code

__all__ = ["STATUSES", "RuleResult", "exit_code"]
