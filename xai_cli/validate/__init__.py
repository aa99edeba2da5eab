"""Validation of the explanation methods on the user's own model: the scorecard and the verdict.

Facts in, sentences out. :mod:`.runner` measures the checks (:mod:`.exactness`, :mod:`.routing`,
:mod:`.sanity`, :mod:`.faithfulness`, :mod:`.probes`, :mod:`.stability`) on the run being
validated; :mod:`.leaks` screens every ``xai explain`` run for leaks and identifiers;
:mod:`.verdict` turns the measured facts into the sentences at the top of every report;
:mod:`.suite` is the synthetic known-answer suite (T01-T06, T08-T09, T15).
"""

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    """This package, callable as ``xai.validate(model, X, y)``.

    Python binds an imported subpackage to its parent's attribute (``xai_cli.validate``), which
    would shadow the public function of the same name once anything imports this package; the
    package therefore forwards a call to :func:`xai_cli.api.validate`.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from xai_cli.api import validate

        return validate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
