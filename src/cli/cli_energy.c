/* eahas energy: measure the energy of a command (issue 4). Thin printing over
 * eahas_energy_run; the report goes to stdout after the command has finished (or to --output). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "eahas/energy.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: eahas energy [options] -- CMD [ARGS...]\n\n"
          "Runs CMD, measures its energy and prints duration, energy per domain (J and kWh), mean\n"
          "power and the method. Exits with CMD's exit status (128+N if signal N ended it; 127 if\n"
          "CMD was not found, 126 if it could not be executed; 1 if the meter is unavailable or\n"
          "the options are bad; 2 if the meter failed during the run).\n\n"
          "options:\n"
          "  --meter M            auto (default), nvml, rapl, perf or estimate. auto measures the\n"
          "                       GPUs (NVML) and the CPU (RAPL sysfs, else perf) where present, and\n"
          "                       falls back to a labelled estimate from CPU time\n"
          "  --interval S         polling / sampling interval in seconds (NVML power: <= 0.1;\n"
          "                       RAPL: capped so that no counter wrap is missed)\n"
          "  --estimate-params P  estimate parameters, e.g. tdp_w=280,tdp_cores=64,idle_fraction=0.3,\n"
          "                       dram_w_per_gib=0.3725 (docs/energy.md)\n"
          "  --powercap-root DIR  RAPL powercap tree (default /sys/class/powercap)\n"
          "  --perf-root DIR      perf PMU tree (default /sys/bus/event_source/devices)\n"
          "  --nvml-lib PATH      NVML library (default libnvidia-ml.so.1)\n"
          "  --json               print JSON: duration_s, energy_j, energy_kwh, mean_power_w, method,\n"
          "                       domains [{name, energy_j, energy_kwh}], exit_status, params\n"
          "  -o, --output FILE    write the report to FILE instead of stdout\n"
          "  -h, --help           this help\n");
}

static int parse_kind(const char *s, eahas_meter_kind *k) {
  static const struct { const char *name; eahas_meter_kind kind; } K[] = {
      {"auto", EAHAS_METER_AUTO}, {"nvml", EAHAS_METER_NVML}, {"rapl", EAHAS_METER_RAPL},
      {"perf", EAHAS_METER_PERF}, {"estimate", EAHAS_METER_ESTIMATE}};
  for (size_t i = 0; i < sizeof K / sizeof K[0]; i++)
    if (strcmp(s, K[i].name) == 0) {
      *k = K[i].kind;
      return 0;
    }
  return -1;
}

static double kwh(double j) { return j / 3.6e6; }

static char *report_json(const eahas_energy_run_result *r, char *const *cmd) {
  const eahas_energy_reading *rd = &r->reading;
  cJSON *o = cJSON_CreateObject();
  cJSON *c = cJSON_AddArrayToObject(o, "command");
  for (int i = 0; cmd[i]; i++) cJSON_AddItemToArray(c, cJSON_CreateString(cmd[i]));
  cJSON_AddNumberToObject(o, "exit_status", r->exit_status);
  cJSON_AddNumberToObject(o, "duration_s", rd->duration_s);
  cJSON_AddNumberToObject(o, "energy_j", rd->energy_j);
  cJSON_AddNumberToObject(o, "energy_kwh", kwh(rd->energy_j));
  cJSON_AddNumberToObject(o, "mean_power_w", rd->duration_s > 0 ? rd->energy_j / rd->duration_s : 0);
  cJSON_AddStringToObject(o, "method", rd->method);
  cJSON_AddBoolToObject(o, "is_estimate", eahas_method_is_estimate(rd->method));
  cJSON_AddStringToObject(o, "params", rd->params);
  cJSON_AddStringToObject(o, "fallback_note", r->note);
  cJSON_AddNumberToObject(o, "cpu_s", r->cpu_s);
  cJSON *ds = cJSON_AddArrayToObject(o, "domains");
  for (int i = 0; i < rd->n_domains; i++) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", rd->domains[i].name);
    cJSON_AddNumberToObject(d, "energy_j", rd->domains[i].energy_j);
    cJSON_AddNumberToObject(d, "energy_kwh", kwh(rd->domains[i].energy_j));
    cJSON_AddItemToArray(ds, d);
  }
  char *s = cJSON_Print(o);
  cJSON_Delete(o);
  return s;
}

static char *report_text(const eahas_energy_run_result *r, char *const *cmd) {
  const eahas_energy_reading *rd = &r->reading;
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  if (!f) return NULL;
  fprintf(f, "command      ");
  for (int i = 0; cmd[i]; i++) fprintf(f, " %s", cmd[i]);
  fprintf(f, "\nexit status   %d\n", r->exit_status);
  fprintf(f, "duration      %.3f s\n", rd->duration_s);
  if (eahas_method_is_estimate(rd->method))
    fprintf(f, "method        %s  (an ESTIMATE from CPU time and memory, not a measurement)\n", rd->method);
  else
    fprintf(f, "method        %s  (measured)\n", rd->method);
  if (rd->params[0]) fprintf(f, "parameters    %s\n", rd->params);
  if (eahas_method_is_estimate(rd->method) && r->note[0])
    fprintf(f, "not measured  %s\n", r->note);
  fprintf(f, "%-16s %14s %14s\n", "domain", "energy (J)", "energy (kWh)");
  for (int i = 0; i < rd->n_domains; i++)
    fprintf(f, "%-16s %14.4f %14.4e\n", rd->domains[i].name, rd->domains[i].energy_j,
            kwh(rd->domains[i].energy_j));
  fprintf(f, "%-16s %14.4f %14.4e\n", "total", rd->energy_j, kwh(rd->energy_j));
  fprintf(f, "mean power    %.3f W\n", rd->duration_s > 0 ? rd->energy_j / rd->duration_s : 0.0);
  fclose(f);
  return buf;
}

static int emit(const char *text, const char *path) {
  if (!path) {
    fputs(text, stdout);
    if (text[0] && text[strlen(text) - 1] != '\n') fputc('\n', stdout);
    fflush(stdout);
    return 0;
  }
  eahas_err e = {0};
  int rc = eahas_write_file_atomic(path, text, strlen(text), &e);
  if (rc != 0) cli_error("%s", e.msg);
  return rc;
}

static const char *need_value(int argc, char **argv, int i) {
  if (i + 1 >= argc) {
    cli_error("energy: %s needs a value (see eahas energy --help)", argv[i]);
    return NULL;
  }
  return argv[i + 1];
}

int cli_energy(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    usage(stdout);
    return 0;
  }
  eahas_meter_opts o = {0};
  eahas_estimate_params ep;
  eahas_estimate_params_default(&ep);
  int json = 0, i = 1;
  const char *out_path = NULL;
  eahas_err e = {0};
  for (; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (a[0] != '-') break;
    if (strcmp(a, "--json") == 0) {
      json = 1;
      continue;
    }
    if (strcmp(a, "--meter") && strcmp(a, "--interval") && strcmp(a, "--powercap-root") &&
        strcmp(a, "--nvml-lib") && strcmp(a, "--perf-root") && strcmp(a, "--estimate-params") &&
        strcmp(a, "-o") && strcmp(a, "--output")) {
      cli_error("energy: unknown option '%s' (see eahas energy --help)", a);
      return 1;
    }
    if (!(v = need_value(argc, argv, i))) return 1;
    i++;
    if (strcmp(a, "--meter") == 0) {
      if (parse_kind(v, &o.kind) != 0) {
        cli_error("energy: --meter '%s' is not one of auto, nvml, rapl, perf, estimate", v);
        return 1;
      }
    } else if (strcmp(a, "--interval") == 0) {
      char *end;
      errno = 0;
      o.interval_s = strtod(v, &end);
      if (end == v || *end || errno || !(o.interval_s > 0) || o.interval_s > 3600) {
        cli_error("energy: --interval '%s' is not a number of seconds in (0, 3600]", v);
        return 1;
      }
    } else if (strcmp(a, "--powercap-root") == 0) {
      o.powercap_root = v;
    } else if (strcmp(a, "--nvml-lib") == 0) {
      o.nvml_lib = v;
    } else if (strcmp(a, "--perf-root") == 0) {
      o.perf_root = v;
    } else if (strcmp(a, "--estimate-params") == 0) {
      if (eahas_estimate_params_parse(v, &ep, &e) != 0) {
        cli_error("energy: --estimate-params: %s", e.msg);
        return 1;
      }
    } else {
      out_path = v;
    }
  }
  if (i >= argc) {
    cli_error("energy: no command given (usage: eahas energy [options] -- CMD [ARGS...])");
    return 1;
  }
  if (out_path && cli_check_output("energy", out_path)) return 1;
  o.estimate = &ep;
  char **cmd = argv + i;
  eahas_energy_run_result res;
  int rc = eahas_energy_run(&o, cmd, &res, &e);
  if (rc == EAHAS_ENOTFOUND) {
    cli_error("energy: %s", e.msg);
    return res.exit_status;
  }
  if (rc != 0) {
    cli_error("energy: %s", e.msg);
    return eahas_exit_status(rc);
  }
  char *text = json ? report_json(&res, cmd) : report_text(&res, cmd);
  if (!text) {
    cli_error("energy: out of memory formatting the report");
    return 2;
  }
  int wrc = emit(text, out_path);
  if (wrc != 0) emit(text, NULL); /* the measurement is not lost: it goes to stdout */
  free(text);
  if (wrc != 0) return eahas_exit_status(wrc);
  return res.exit_status;
}
