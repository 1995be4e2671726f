# The throughput benchmark (perf/, not a test): net_throughput in the build directory.
if(NOT TARGET net_throughput)
  add_executable(net_throughput ${CMAKE_SOURCE_DIR}/perf/net_throughput.c)
  target_link_libraries(net_throughput PRIVATE eahas_net eahas_space eahas_util m)
endif()

# The net's elementwise loops share oneDNN's OpenMP threads (src/net/net_exec.c, PAR_FOR).
target_compile_options(eahas_net PRIVATE -fopenmp)
target_link_libraries(eahas_net PUBLIC -fopenmp)
