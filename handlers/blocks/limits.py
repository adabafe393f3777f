"""Slack's Block Kit limits that the renderers design around.

``slack_sdk.models`` enforces most of these when a block is serialised (it raises
``SlackObjectFormationError``); the renderers stay under them by construction, clipping
long user text with an ellipsis instead of failing.
"""

from __future__ import annotations

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100  # modals and the Home tab alike
MESSAGE_TEXT_CHARS = 3000  # the fallback ``text``; Slack allows 40,000 but truncates display
SECTION_TEXT_CHARS = 3000
FIELD_TEXT_CHARS = 2000
SECTION_MAX_FIELDS = 10
HEADER_TEXT_CHARS = 150
CONTEXT_TEXT_CHARS = 2000
CONTEXT_MAX_ELEMENTS = 10
ACTIONS_MAX_ELEMENTS = 25
BUTTON_TEXT_CHARS = 75
BUTTON_VALUE_CHARS = 2000
BLOCK_ID_CHARS = 255
ACTION_ID_CHARS = 255
INPUT_LABEL_CHARS = 2000
INPUT_HINT_CHARS = 2000
PLACEHOLDER_CHARS = 150
OPTION_TEXT_CHARS = 75
MODAL_TITLE_CHARS = 24
MODAL_BUTTON_CHARS = 24
PRIVATE_METADATA_CHARS = 3000
CONFIRM_TITLE_CHARS = 100
CONFIRM_TEXT_CHARS = 300
