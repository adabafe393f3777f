"""The Slack stand-in for tests: a re-export of ``sandbox.slack``, its one implementation.

The stand-in moved into the product (``recon-bot sandbox`` serves it to a browser); this
package keeps ``tests.slack_standin`` importable for the tests that use it. Its public
names are exactly ``sandbox.slack``'s (one list, kept there).
"""

from sandbox.slack import *  # noqa: F403
from sandbox.slack import __all__ as __all__
