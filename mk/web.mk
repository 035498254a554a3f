# The web page's browser tests: Debian's Chromium, driven by Python's Playwright (a dev dependency)
# through executable_path, since no browser build can be downloaded here. Included by the root Makefile.

.PHONY: tools-web

tools-web: ## Install Debian's chromium for the web page tests (tests/web) when it is missing
	@[ -x /usr/bin/chromium ] || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
