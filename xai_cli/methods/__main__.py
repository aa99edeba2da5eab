"""``python -m xai_cli.methods``: print the README's table of method parameters.

Generated from the models the methods declare; tests/test_params.py checks that the README has it.
"""

from xai_cli.methods import REGISTRY
from xai_cli.methods.params import markdown_table

print(markdown_table(REGISTRY.values()), end="")
