# Two commands on a fresh machine: `make demo` and `make test`. Both rest on `make setup`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.setup-stamp
# System packages: ffmpeg (containers, long recordings), espeak-ng (synthetic speech), chromium and a
# Korean font (browser tests), cmake/boost for kenlm.
APT_PACKAGES := ffmpeg espeak-ng chromium fonts-nanum build-essential cmake libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev libeigen3-dev zlib1g-dev libbz2-dev liblzma-dev

.PHONY: setup demo test lint clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt Makefile
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	test -x $(PY) || python3.11 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	# pyctcdecode pins numpy<2 but works under numpy 2 (API-NOTES): install without its deps.
	$(PY) -m pip install -q --no-deps pyctcdecode==0.5.0 pygtrie==2.6.2
	$(PY) -m pip install -q kenlm==0.3.0 || echo "kenlm did not build: beam search runs without an LM"
	touch $(STAMP)

demo: setup
	$(PY) app.py

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV)
