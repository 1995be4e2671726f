# energy tests: a stub NVML library (tests/energy/stub_nvml.c) with counters scripted through
# environment variables, built next to the tests as <build>/tests/energy/libstub_nvml.so. The
# tests and tests/cli/test_energy.sh find it through $EAHAS_BUILD. It is a dependency of the
# energy library so that building any energy test (or the CLI) builds it too.
add_library(stub_nvml SHARED ${CMAKE_SOURCE_DIR}/tests/energy/stub_nvml.c)
set_target_properties(stub_nvml PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/energy)
add_dependencies(eahas_${name} stub_nvml)
