// Package browser holds Sesame's headless-browser end-to-end tests: a real
// Chromium, driven with chromedp, signs in to two small relying-party web
// applications through Sesame's hosted login page (single sign-on, then
// RP-initiated logout), with every host name mapped to 127.0.0.1 so that
// cookies are kept per host name as in production.
//
// The tests need a Chromium binary and are skipped without it. They never
// download a browser and talk only to 127.0.0.1:
//
//	apt-get update && apt-get install -y chromium
//	SESAME_TEST_CHROMIUM=/usr/bin/chromium go test ./test/browser/ -count=1 -v
//
// Screenshots go to $SESAME_TEST_ARTIFACTS when it is set, else to a
// temporary directory; the test logs their paths. The web console's test
// (TestBrowserConsole) drives the console under /admin/ and writes its
// screenshots of the console's pages to $SESAME_TEST_SCREENSHOTS, else to
// test/browser/screenshots/ (ignored by git; docs/console/ keeps a set).
package browser
