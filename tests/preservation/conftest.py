"""The twelve-capture archive of tests/test_fixity.py, for the fixity tests here."""

from tests.test_fixity import app, built_home  # noqa: F401  (fixtures)
