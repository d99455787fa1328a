# Sourced by the CI scripts: `step TITLE` prints a stage's heading with the disk space left (a
# CI machine once ran out of it mid-run; the headings show which stage took it).
step() { printf '\n==> %s   [disk: %s free]\n' "$*" "$(df -h --output=avail . | tail -1 | tr -d ' ')"; }
