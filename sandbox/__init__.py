"""The local Slack sandbox: a faithful Slack stand-in and a web page to use it.

``sandbox.slack`` is the stand-in (Web API, Socket Mode, Slack's limits and checks) the
tests run the bot against; ``sandbox.web`` serves a page that lets a person click through
the same bot in a browser. It depends on nothing of ours: the real ``serve`` talks to it
over the wire exactly as it talks to Slack.
"""
