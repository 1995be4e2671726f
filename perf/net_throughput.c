/* Training throughput of the net module against PyTorch CPU (perf, not a test).
 *
 * For three sampled fashion-mnist configs and one sampled cifar10 config: builds the RegNet,
 * runs forward (training mode) + label-smoothed cross entropy + backward on random data at batch
 * 128 with 2 threads, and reports images/s and the peak RSS of a child process that does only
 * that. Then runs perf/net_throughput_torch.py on the same expanded network, batch and threads,
 * and prints the ratio. Usage (from the repository root):
 *   OMP_NUM_THREADS=2 build-net/net_throughput [iterations=6] [python=/usr/bin/python3] [threads=2]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eahas/net.h"
#include "eahas/space.h"

#define BATCH 128
static int THREADS = 2;

typedef struct result {
  double ips, rss_mb, params, cpu;
} result;

/* CPU time of the process, all threads (s). */
static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Runs in a child: build, 2 warm-up steps, `iters` timed steps; writes ips to the pipe. */
static void child(const eahas_regnet *rn, const eahas_net_opts *o, int iters, int fd) {
  eahas_err err = {0, ""};
  eahas_net_set_threads(THREADS, &err);
  eahas_net *net = NULL;
  if (eahas_net_new_regnet(rn, o, BATCH, 1, &net, &err)) {
    fprintf(stderr, "net: %s\n", err.msg);
    _exit(2);
  }
  size_t xn = (size_t)BATCH * o->in_channels * o->im_size * o->im_size;
  float *x = malloc(xn * sizeof(float)), *lg = malloc((size_t)BATCH * o->num_classes * sizeof(float));
  float *dl = malloc((size_t)BATCH * o->num_classes * sizeof(float));
  int *lab = malloc(BATCH * sizeof(int));
  eahas_rng rng;
  eahas_rng_seed(&rng, 3);
  for (size_t i = 0; i < xn; i++) x[i] = (float)eahas_rng_normal(&rng);
  for (int i = 0; i < BATCH; i++) lab[i] = (int)eahas_rng_below(&rng, (uint64_t)o->num_classes);
  double t0 = 0, c0 = 0;
  for (int it = 0; it < iters + 2; it++) {
    if (it == 2) t0 = eahas_now_s(), c0 = cpu_s();
    if (eahas_net_forward(net, x, BATCH, 1, lg, &err) || (eahas_softmax_xent(lg, lab, BATCH, o->num_classes, 0.1, dl, NULL), 0) ||
        eahas_net_backward(net, dl, &err)) {
      fprintf(stderr, "net: %s\n", err.msg);
      _exit(2);
    }
  }
  double ips[2] = {(double)iters * BATCH / (eahas_now_s() - t0), (cpu_s() - c0) / iters};
  if (fd >= 0 && write(fd, ips, sizeof ips) != sizeof ips) _exit(3);
  if (fd < 0) printf("ours: %.1f images/s wall, %.3f CPU s per step (all threads)\n", ips[0], ips[1]);
  eahas_net_free(net);
  if (fd >= 0) _exit(0);
}

static int run_ours(const eahas_regnet *rn, const eahas_net_opts *o, int iters, result *r) {
  int p[2];
  if (pipe(p)) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    child(rn, o, iters, p[1]);
  }
  close(p[1]);
  double ips[2] = {0, 0};
  ssize_t got = read(p[0], ips, sizeof ips);
  close(p[0]);
  int st = 0;
  struct rusage ru;
  if (wait4(pid, &st, 0, &ru) < 0 || got != sizeof ips || !WIFEXITED(st) || WEXITSTATUS(st)) return -1;
  r->ips = ips[0];
  r->cpu = ips[1];
  r->rss_mb = ru.ru_maxrss / 1024.0; /* KiB on Linux */
  return 0;
}

static int run_torch(const char *py, const eahas_regnet *rn, const eahas_net_opts *o, int iters, result *r) {
  char cmd[1024], arch[512] = "";
  int len = 0;
  for (int i = 0; i < rn->num_stages; i++)
    len += snprintf(arch + len, sizeof arch - (size_t)len, "%s%d:%d:%d", i ? "," : "", rn->widths[i], rn->depths[i],
                    rn->group_widths[i]);
  snprintf(cmd, sizeof cmd,
           "%s perf/net_throughput_torch.py --stages %s --stem %d --stem-w %d --im %d --in-ch %d --classes %d "
           "--se %d --batch %d --threads %d --iters %d",
           py, arch, (int)o->stem, o->stem_w, o->im_size, o->in_channels, o->num_classes, o->se, BATCH, THREADS, iters);
  FILE *f = popen(cmd, "r");
  if (!f) return -1;
  int ok = fscanf(f, "%lf %lf", &r->ips, &r->rss_mb) == 2;
  int st = pclose(f);
  return ok && st == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  int iters = argc > 1 ? atoi(argv[1]) : 6;
  const char *py = argc > 2 ? argv[2] : "/usr/bin/python3";
  if (argc > 3) THREADS = atoi(argv[3]);
  int only = argc > 4 ? atoi(argv[4]) : -1;
  int no_torch = strcmp(py, "-") == 0;
  if (THREADS < 1) THREADS = 1;
  const char *presets[4] = {"fashion-mnist", "fashion-mnist", "fashion-mnist", "cifar10"};
  eahas_rng rng;
  eahas_rng_seed(&rng, 2026);
  printf("oneDNN %s, batch %d, threads %d, %d timed iterations (forward + loss + backward)\n",
         eahas_net_backend_version(), BATCH, THREADS, iters);
  printf("%-14s %-62s %9s %9s %9s %8s %8s %6s %9s\n", "preset", "config", "params", "ours/s", "torch/s", "ours MB",
         "torch MB", "ratio", "ours CPU");
  for (int i = 0; i < 4; i++) {
    eahas_err err = {0, ""};
    const eahas_preset *p = eahas_preset_get(presets[i]);
    eahas_config c;
    eahas_regnet rn;
    eahas_complexity cx;
    if (eahas_config_sample(&rng, p, 0, &c, &err) || eahas_config_complexity(&c, p, &rn, &cx, &err)) {
      fprintf(stderr, "%s\n", err.msg);
      return 2;
    }
    eahas_net_opts o = eahas_preset_net_opts(p);
    char text[EAHAS_CONFIG_TEXT_MAX];
    eahas_config_format(&c, text, sizeof text);
    if (only >= 0 && i != only) continue;
    if (only >= 0 && no_torch) {
      printf("%s %s\n", presets[i], text);
      fflush(stdout);
      child(&rn, &o, iters, -1);
      continue;
    }
    result ours = {0, 0, 0, 0}, torch = {0, 0, 0, 0};
    if (run_ours(&rn, &o, iters, &ours)) {
      fprintf(stderr, "ours failed on %s\n", text);
      return 2;
    }
    int tr = no_torch ? -1 : run_torch(py, &rn, &o, iters, &torch);
    printf("%-14s %-62s %9.0f %9.1f %9.1f %8.0f %8.0f %6.2f %8.3fs\n", presets[i], text, cx.params, ours.ips,
           tr ? 0.0 : torch.ips, ours.rss_mb, tr ? 0.0 : torch.rss_mb, tr ? 0.0 : ours.ips / torch.ips, ours.cpu);
    fflush(stdout);
  }
  return 0;
}
