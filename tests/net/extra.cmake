# The throughput benchmark (perf/, not a test): net_throughput in the build directory.
if(NOT TARGET net_throughput)
  add_executable(net_throughput ${CMAKE_SOURCE_DIR}/perf/net_throughput.c)
  target_link_libraries(net_throughput PRIVATE eahas_net eahas_space eahas_util m)
endif()
