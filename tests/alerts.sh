#!/bin/bash
# doc/alerts.yml: valid rules (promtool check rules), and they fire as documented on made-up series
# (promtool test rules tests/alerts-test.yml): budget exceeded, targets failed or skipped, a stale
# file, mlockd down.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
command -v promtool >/dev/null || skip "promtool not installed (Debian: package prometheus)"

promtool check rules "$top_srcdir/doc/alerts.yml" || fail "promtool rejects doc/alerts.yml"
# rule_files in the test are relative to the test file
(cd "$top_srcdir/tests" && promtool test rules alerts-test.yml) || fail "the alert rules do not fire as documented"
exit 0
