# The two commands of the README. Both install missing Debian packages first (scripts/deps.sh).
JOBS ?= $(shell nproc)

.PHONY: demo test build build-asan deps clean

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS) -- --no-print-directory -s

build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEAHAS_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS) -- --no-print-directory -s

# The whole suite, once optimized (every test, real training included) and once under
# AddressSanitizer + UBSan (every test but those labelled slow, which train for minutes).
test: build build-asan
	cd build && ctest --output-on-failure -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS) -LE slow

demo: build
	@scripts/demo.sh

clean:
	rm -rf build build-asan
