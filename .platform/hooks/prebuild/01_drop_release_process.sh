#!/bin/bash
# Elastic Beanstalk runs every Procfile line as a long-running service and restarts
# any that exits, so Heroku's one-off "release:" line would migrate in a loop. Here
# migrations are a leader_only container command instead (.ebextensions), so the
# line is dropped from the staged bundle before the platform reads the Procfile.
set -euo pipefail
bundle="$(dirname "$0")/../../.."
sed -i '/^release:/d' "$bundle/Procfile"
