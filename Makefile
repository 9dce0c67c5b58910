# The two commands a newcomer needs: `make run` and `make test` (see README.md).
VENV := .venv
BIN := $(VENV)/bin
MODEL ?= qwen2.5-coder-1.5b

.PHONY: setup run chat test test-fast

setup:
	bash scripts/setup.sh

run: setup
	$(BIN)/medassist models fetch $(MODEL)
	$(BIN)/medassist ui --llm $(MODEL)

chat: setup
	$(BIN)/medassist models fetch $(MODEL)
	$(BIN)/medassist chat --llm $(MODEL)

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not browser"
