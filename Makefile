# Shortcuts for the scripts in scripts/ (which need only bash and python3).
.PHONY: demo test
demo:
	./scripts/demo.sh
test:
	./scripts/test.sh
