# Test helper: writes a benchmark file of synthetic runs (tests/surrogate/synth.h), used by
# tests/cli/test_surrogate.sh and perf/query_bench.c.
add_executable(surrogate_make_synth ${CMAKE_SOURCE_DIR}/tests/surrogate/make_synth.c)
target_include_directories(surrogate_make_synth PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(surrogate_make_synth PRIVATE eahas_surrogate m)
