#!/bin/sh
# tests/browser/test_browser.sh: the example page (examples/web/) in headless Chromium with the pinned Web SDK from npm.
# usage: test_browser.sh npm SRC WORK    npm ci of tests/browser/package-lock.json into WORK/node_modules (once per lock)
#        test_browser.sh page SRC WORK   run test_example_page.js; screenshots in WORK/out
set -u
what=$1
SRC=$2
WORK=$3
need() {
	command -v "$1" >/dev/null 2>&1 || {
		echo "$1 not found: install $2 (scripts/deps.sh --test)"
		exit 77
	}
}
need node nodejs
case "$what" in
npm)
	need npm npm
	mkdir -p "$WORK" || exit 1
	if [ -f "$WORK/node_modules/.callhook-lock" ] &&
		cmp -s "$WORK/node_modules/.callhook-lock" "$SRC/tests/browser/package-lock.json"; then
		echo "npm: $WORK/node_modules is up to date with tests/browser/package-lock.json"
		exit 0
	fi
	cp "$SRC/tests/browser/package.json" "$SRC/tests/browser/package-lock.json" "$WORK/" || exit 1
	# npm ci installs exactly the lock (integrity-checked), never a newer version
	if ! (cd "$WORK" && npm ci --no-audit --no-fund --ignore-scripts); then
		echo "npm ci failed: is the npm registry reachable?"
		exit 77
	fi
	cp "$SRC/tests/browser/package-lock.json" "$WORK/node_modules/.callhook-lock" || exit 1
	v=$(node -p "require('$WORK/node_modules/@flashphoner/websdk/package.json').version") || exit 1
	echo "npm: @flashphoner/websdk $v installed in $WORK/node_modules"
	;;
page)
	[ -f "$WORK/node_modules/@flashphoner/websdk/flashphoner.js" ] || {
		echo "FAIL: no Web SDK in $WORK/node_modules (the browser.npm fixture did not run or failed)"
		exit 1
	}
	chromium=$(command -v chromium) || {
		echo "chromium not found: install chromium (scripts/deps.sh --test)"
		exit 77
	}
	exec node "$SRC/tests/browser/test_example_page.js" "$SRC" "$WORK/node_modules" "$WORK/out" "$chromium"
	;;
*)
	echo "usage: $0 npm|page SRC WORK"
	exit 2
	;;
esac
