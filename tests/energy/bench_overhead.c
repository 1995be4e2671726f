/* The meter's own overhead (docs/PERFORMANCE-energy.md): time per eahas_meter_read for each
 * backend, and the CPU time its polling thread takes while the measured work runs. Not a test;
 * built by hand (the command is in docs/PERFORMANCE-energy.md). Usage: bench_overhead STUB_SO */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "energy/fake_tree.h"
#include "energy/internal.h"

static void per_read(const char *label, eahas_meter_opts *o, int n) {
  eahas_meter *m;
  eahas_err e = {0};
  if (eahas_meter_open(o, &m, &e) != 0 || eahas_meter_start(m, &e) != 0) {
    printf("%-34s unavailable: %s\n", label, e.msg);
    return;
  }
  eahas_energy_reading rd;
  double t0 = eahas_now_s();
  for (int i = 0; i < n; i++) eahas_meter_read(m, &rd, &e);
  double us = (eahas_now_s() - t0) / n * 1e6;
  printf("%-34s %8.2f us per read (%d reads, %d domains)\n", label, us, n, rd.n_domains);
  eahas_meter_close(m);
}

/* CPU seconds this process uses over `seconds` of sleeping while the meter runs: all of it is
 * the meter's thread. */
static void thread_cost(const char *label, eahas_meter_opts *o, double seconds) {
  eahas_meter *m;
  eahas_err e = {0};
  if (eahas_meter_open(o, &m, &e) != 0) {
    printf("%-34s unavailable: %s\n", label, e.msg);
    return;
  }
  double c0 = eahas_cpu_time_s();
  eahas_meter_start(m, &e);
  usleep((useconds_t)(seconds * 1e6));
  eahas_energy_reading rd;
  eahas_meter_stop(m, &rd, &e);
  double c = eahas_cpu_time_s() - c0;
  printf("%-34s %8.4f CPU-s over %.0f s = %.3f %% of one core\n", label, c, seconds, 100 * c / seconds);
  eahas_meter_close(m);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s path/to/libstub_nvml.so\n", argv[0]);
    return 1;
  }
  char *r = ft_root();
  ft_zone(r, "intel-rapl:0", "package-0", 0, 262143328850ULL);
  ft_zone(r, "intel-rapl:0:0", "core", 0, 262143328850ULL);
  ft_zone(r, "intel-rapl:0:1", "dram", 0, 65532610987ULL);
  ft_zone(r, "intel-rapl:1", "package-1", 0, 262143328850ULL);
  ft_zone(r, "intel-rapl:1:0", "dram", 0, 65532610987ULL);
  eahas_meter_opts est = {.kind = EAHAS_METER_ESTIMATE};
  eahas_meter_opts est_pid = {.kind = EAHAS_METER_ESTIMATE, .pid = getppid()};
  eahas_meter_opts rapl = {.kind = EAHAS_METER_RAPL, .powercap_root = r};
  eahas_meter_opts nv = {.kind = EAHAS_METER_NVML, .nvml_lib = argv[1]};
  setenv("STUB_NVML_GPUS", "4", 1);
  per_read("estimate (this process)", &est, 100000);
  per_read("estimate (another pid, /proc)", &est_pid, 20000);
  per_read("rapl (fake tree, 4 domains)", &rapl, 20000);
  setenv("STUB_NVML_MODE", "counter", 1);
  per_read("nvml-counter (stub, 4 GPUs)", &nv, 100000);
  setenv("STUB_NVML_MODE", "power", 1);
  per_read("nvml-power (stub, 4 GPUs)", &nv, 100000);
  thread_cost("rapl polling thread, 1 s", &rapl, 3.0);
  eahas_meter_opts rapl_fast = rapl;
  rapl_fast.interval_s = 0.01;
  thread_cost("rapl polling thread, 0.01 s", &rapl_fast, 3.0);
  thread_cost("nvml-power sampling, 0.05 s", &nv, 3.0);
  ft_rm(r);
  free(r);
  return 0;
}
