#!/bin/sh
# Called by dags/slack-command.yaml with the text a Slack user typed after the slash command.
# The text arrives as one argument (data, never code); replace this with your own handling.
set -eu
text="${1:-}"
case "$text" in
  "") echo "nothing to do: empty command" ;;
  deploy*) echo "would deploy: ${text#deploy }" ;;
  *) echo "unknown command: $text" ;;
esac
