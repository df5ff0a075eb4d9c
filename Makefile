# Conveniences over the scripts (the scripts are the source of truth).
.PHONY: bench bench-smoke

bench:
	scripts/bench

bench-smoke:
	scripts/bench --smoke
