/* eahas space: sample, describe, encode and validate configs of the joint search space.
 * A thin client of include/eahas/space.h: parsing of arguments, printing, exit statuses. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "eahas/space.h"

static const char *USAGE_SPACE =
    "usage: eahas space <sample|describe|encode|validate> [options]\n"
    "\n"
    "The joint search space of EA-HAS-Bench: a RegNet architecture (d, w0, wa, wm, gw) and training\n"
    "hyperparameters (lr, opt, sched, cutout, epochs). A config is written as\n"
    "  d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100\n"
    "or as a JSON object with the same keys.\n"
    "\n"
    "  sample    draw configs satisfying a preset's constraints\n"
    "  describe  stages, params, flops, acts of a config or of any pycls RegNet\n"
    "  encode    the 26-value feature encoding of a config\n"
    "  validate  check configs read from stdin, one per line\n"
    "\n"
    "Presets: cifar10, tinyimagenet, fashion-mnist. 'eahas space <command> --help' for details.\n"
    "Exit status: 0 success, 1 bad input, 2 internal failure.\n";

static const char *USAGE_SAMPLE =
    "usage: eahas space sample --preset P [-n N] [--seed S] [--max-attempts M] [--json]\n"
    "\n"
    "Prints N configs (default 1), one per line, drawn with the pycls samplers from a stream seeded\n"
    "by S (default 0; same seed, same configs on any machine) and kept only if they satisfy the\n"
    "preset's constraints (rejection, at most M draws per config, default 100000).\n"
    "  --json   one JSON object per line instead of the text form\n";

static const char *USAGE_DESCRIBE =
    "usage: eahas space describe CONFIG --preset P [overrides] [--json]\n"
    "\n"
    "Expands the RegNet of CONFIG (pycls generate_regnet + group compatibility) and counts its\n"
    "params, flops (multiply-adds) and activations for one image, under the preset's network\n"
    "settings, and says whether the preset's constraints hold.\n"
    "CONFIG is a full config, or an architecture alone with real-valued wa and wm, which describes\n"
    "any pycls RegNet, e.g. RegNetY-200MF:\n"
    "  eahas space describe d=13,w0=24,wa=36.44,wm=2.49,gw=8 --preset cifar10 \\\n"
    "    --stem simple_stem_in --stem-w 32 --im-size 224 --in-channels 3 --classes 1000 --se on\n"
    "Overrides of the preset's network settings:\n"
    "  --stem simple_stem_in|res_stem_cifar   stem type\n"
    "  --stem-w N       stem width\n"
    "  --im-size N      input resolution\n"
    "  --in-channels N  input channels\n"
    "  --classes N      number of classes\n"
    "  --se on|off      squeeze-and-excitation blocks (RegNetY) or not (RegNetX)\n"
    "  --json           JSON with keys widths, depths, group_widths, num_stages, max_stages,\n"
    "                   params, flops, acts, constraints_ok (and constraint_error when false)\n";

static const char *USAGE_ENCODE =
    "usage: eahas space encode CONFIG --preset P [--json]\n"
    "\n"
    "Prints the 26 features of the BSC surrogate: (d-6)/9, (w0-48)/80, (wa-8)/24,\n"
    "(wm-wm_lo)/(wm_hi-wm_lo) with the preset's wm range, (gw-1)/31, then one-hots of lr (10),\n"
    "opt (3), sched (3), cutout (2) and epochs (3). --json prints a JSON array.\n";

static const char *USAGE_VALIDATE =
    "usage: eahas space validate --preset P [--no-constraints] [--json] < configs\n"
    "\n"
    "Reads configs from stdin, one per line (text or JSON), and reports every bad line with its\n"
    "number and the reason: a malformed value, a value outside the preset's ranges, or (unless\n"
    "--no-constraints) a violated complexity or stage constraint. Blank lines and lines starting\n"
    "with '#' are skipped, as `eahas query FILE -` skips them. Exit status 1 if any line is bad.\n"
    "  --json   one JSON object {\"line\": N, \"error\": \"...\"} per bad line\n";

/* Options shared by the subcommands; ints are -1 when not given. */
typedef struct {
  const char *preset, *config;
  long n, seed, max_attempts;
  int json, no_constraints;
  int stem, stem_w, im_size, in_channels, classes, se;
} space_opts;

/* A positive integer option value, or -1 with a message. */
static long parse_count(const char *flag, const char *v, long lo, long hi) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi) {
    cli_error("%s '%s' is not an integer in [%ld, %ld]", flag, v, lo, hi);
    return -1;
  }
  return x;
}

/* 1 if flag is an option that takes a value: anything else is unknown, even when last on the
 * line (it used to be reported as "option --bogus needs a value"). */
static int takes_value(const char *flag) {
  static const char *const names[] = {"--preset", "-n",      "--seed",        "--max-attempts", "--stem",
                                      "--stem-w", "--im-size", "--in-channels", "--classes",      "--se"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
    if (strcmp(flag, names[k]) == 0) return 1;
  return 0;
}

/* Parses argv[2..] (argv[0] = "space", argv[1] = subcommand). Returns 0 or 1 (bad input). */
static int parse_opts(int argc, char **argv, space_opts *o) {
  memset(o, 0, sizeof *o);
  o->n = 1;
  o->stem = o->stem_w = o->im_size = o->in_channels = o->classes = o->se = -1;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || a[1] == 0) {
      if (o->config) {
        cli_error("unexpected argument '%s' (only one CONFIG)", a);
        return 1;
      }
      o->config = a;
      continue;
    }
    if (strcmp(a, "--json") == 0) {
      o->json = 1;
      continue;
    }
    if (strcmp(a, "--no-constraints") == 0) {
      o->no_constraints = 1;
      continue;
    }
    /* Options with a value: "--flag V" or "--flag=V". */
    const char *eq = strchr(a, '=');
    char flag[32];
    size_t fl = eq ? (size_t)(eq - a) : strlen(a);
    if (fl >= sizeof flag) fl = sizeof flag - 1;
    memcpy(flag, a, fl);
    flag[fl] = 0;
    if (!takes_value(flag)) {
      cli_error("unknown option '%s' (see eahas space %s --help)", flag, argv[1]);
      return 1;
    }
    const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!v) {
      cli_error("option %s needs a value", flag);
      return 1;
    }
    long x = 0;
    if (strcmp(flag, "--preset") == 0) {
      o->preset = v;
    } else if (strcmp(flag, "-n") == 0) {
      if ((o->n = parse_count(flag, v, 0, 100000000)) < 0) return 1;
    } else if (strcmp(flag, "--seed") == 0) {
      if ((o->seed = parse_count(flag, v, 0, 0x7fffffffffffffffL)) < 0) return 1;
    } else if (strcmp(flag, "--max-attempts") == 0) {
      if ((o->max_attempts = parse_count(flag, v, 1, 1000000000)) < 0) return 1;
    } else if (strcmp(flag, "--stem") == 0) {
      if (strcmp(v, "simple_stem_in") == 0) o->stem = EAHAS_STEM_SIMPLE_IN;
      else if (strcmp(v, "res_stem_cifar") == 0) o->stem = EAHAS_STEM_RES_CIFAR;
      else {
        cli_error("--stem '%s' is not one of simple_stem_in, res_stem_cifar", v);
        return 1;
      }
    } else if (strcmp(flag, "--se") == 0) {
      if (strcmp(v, "on") == 0) o->se = 1;
      else if (strcmp(v, "off") == 0) o->se = 0;
      else {
        cli_error("--se '%s' is not one of on, off", v);
        return 1;
      }
    } else if (strcmp(flag, "--stem-w") == 0 || strcmp(flag, "--im-size") == 0 ||
               strcmp(flag, "--in-channels") == 0 || strcmp(flag, "--classes") == 0) {
      if ((x = parse_count(flag, v, 1, 1000000)) < 0) return 1;
      if (flag[2] == 's') o->stem_w = (int)x;
      else if (flag[3] == 'm') o->im_size = (int)x;
      else if (flag[2] == 'i') o->in_channels = (int)x;
      else o->classes = (int)x;
    } else {
      cli_error("unknown option '%s' (see eahas space %s --help)", flag, argv[1]);
      return 1;
    }
  }
  return 0;
}

static int get_preset(const space_opts *o, const eahas_preset **p) {
  if (!o->preset) {
    cli_error("--preset is required (cifar10, tinyimagenet, fashion-mnist)");
    return 1;
  }
  eahas_err e = {0};
  if (eahas_preset_lookup(o->preset, p, &e)) {
    cli_error("%s", e.msg);
    return 1;
  }
  return 0;
}

/* 2 if stdout could not be written (a full disk is not the user's input error). */
static int finish_output(int status) {
  if (fflush(stdout) != 0 || ferror(stdout)) {
    cli_error("writing the output failed: %s", strerror(errno));
    return 2;
  }
  return status;
}

/* ---- sample ---------------------------------------------------------------------------- */

static int cmd_sample(const space_opts *o) {
  const eahas_preset *p;
  if (get_preset(o, &p)) return 1;
  if (o->config) {
    cli_error("sample takes no CONFIG argument (got '%s')", o->config);
    return 1;
  }
  eahas_rng rng;
  eahas_rng_seed(&rng, (uint64_t)o->seed);
  for (long i = 0; i < o->n; i++) {
    eahas_config c;
    eahas_err e = {0};
    int rc = eahas_config_sample(&rng, p, (int)o->max_attempts, &c, &e);
    if (rc) {
      cli_error("config %ld of %ld: %s", i + 1, o->n, e.msg);
      finish_output(0);
      return eahas_exit_status(rc);
    }
    if (o->json) {
      char *js = eahas_config_to_json(&c);
      if (!js) {
        cli_error("out of memory");
        return 2;
      }
      puts(js);
      free(js);
    } else {
      char buf[EAHAS_CONFIG_TEXT_MAX];
      eahas_config_format(&c, buf, sizeof buf);
      puts(buf);
    }
  }
  return finish_output(0);
}

/* ---- describe -------------------------------------------------------------------------- */

static const char *stem_name(eahas_stem_kind s) { return s == EAHAS_STEM_SIMPLE_IN ? "simple_stem_in" : "res_stem_cifar"; }

static void print_int_array(const char *key, const int *v, int n) {
  printf("\"%s\":[", key);
  for (int i = 0; i < n; i++) printf(i ? ",%d" : "%d", v[i]);
  printf("]");
}

static int cmd_describe(const space_opts *o) {
  const eahas_preset *p;
  if (get_preset(o, &p)) return 1;
  if (!o->config) {
    cli_error("describe needs a CONFIG (see eahas space describe --help)");
    return 1;
  }
  /* A full config; otherwise an architecture alone (any pycls RegNet). */
  eahas_config c;
  eahas_regnet_arch a;
  eahas_err e = {0}, e_arch = {0};
  int full = eahas_config_parse(o->config, &c, &e) == 0;
  if (full) {
    a = eahas_config_arch(&c);
  } else if (eahas_regnet_arch_parse(o->config, &a, &e_arch) != 0) {
    /* Report the arch error when the text has no hyperparameter key (it was meant as one). */
    int has_hp = strstr(o->config, "lr") || strstr(o->config, "opt") || strstr(o->config, "sched") ||
                 strstr(o->config, "cutout") || strstr(o->config, "epochs") || strchr(o->config, '{');
    cli_error("%s", has_hp ? e.msg : e_arch.msg);
    return 1;
  }
  eahas_net_opts no = eahas_preset_net_opts(p);
  if (o->stem >= 0) no.stem = (eahas_stem_kind)o->stem;
  if (o->stem_w > 0) no.stem_w = o->stem_w;
  if (o->im_size > 0) no.im_size = o->im_size;
  if (o->in_channels > 0) no.in_channels = o->in_channels;
  if (o->classes > 0) no.num_classes = o->classes;
  if (o->se >= 0) no.se = o->se;
  eahas_regnet r;
  eahas_complexity cx;
  int rc = eahas_regnet_expand(&a, &r, &e);
  if (!rc) rc = eahas_regnet_complexity(&r, &no, &cx, &e);
  if (rc) {
    cli_error("%s", e.msg);
    return eahas_exit_status(rc);
  }
  /* Constraints: the preset's wm range for a full config, then stages and complexity of the
   * network as described (with the overrides). */
  eahas_err ce = {0};
  int ok = (!full || eahas_config_validate(&c, p, 0, &ce) == 0) && eahas_preset_check_constraints(p, &r, &cx, &ce) == 0;
  char text[EAHAS_CONFIG_TEXT_MAX];
  if (full) eahas_config_format(&c, text, sizeof text);
  else snprintf(text, sizeof text, "d=%d,w0=%d,wa=%.10g,wm=%.10g,gw=%d", a.d, a.w0, a.wa, a.wm, a.gw);
  if (o->json) {
    printf("{\"config\":");
    cli_json_string(stdout, text);
    printf(",\"preset\":\"%s\",\"stem\":\"%s\",\"stem_w\":%d,\"im_size\":%d,\"in_channels\":%d,\"classes\":%d,"
           "\"se\":%s,",
           p->name, stem_name(no.stem), no.stem_w, no.im_size, no.in_channels, no.num_classes, no.se ? "true" : "false");
    print_int_array("widths", r.widths, r.num_stages);
    putchar(',');
    print_int_array("depths", r.depths, r.num_stages);
    putchar(',');
    print_int_array("group_widths", r.group_widths, r.num_stages);
    printf(",\"num_stages\":%d,\"max_stages\":%d,\"params\":%.0f,\"flops\":%.0f,\"acts\":%.0f,\"constraints_ok\":%s",
           r.num_stages, r.max_stages, cx.params, cx.flops, cx.acts, ok ? "true" : "false");
    if (!ok) {
      printf(",\"constraint_error\":");
      cli_json_string(stdout, ce.msg);
    }
    printf("}\n");
  } else {
    printf("config       %s\n", text);
    printf("network      %s stem %d, %dx%dx%d input, %d classes, SE %s (preset %s)\n", stem_name(no.stem), no.stem_w,
           no.im_size, no.im_size, no.in_channels, no.num_classes, no.se ? "on" : "off", p->name);
    printf("num_stages   %d (max_stages %d)\n", r.num_stages, r.max_stages);
    for (int s = 0; s < r.num_stages; s++)
      printf("  stage %-2d   width %-5d depth %-3d group width %d\n", s + 1, r.widths[s], r.depths[s], r.group_widths[s]);
    printf("params       %.0f\nflops        %.0f\nacts         %.0f\n", cx.params, cx.flops, cx.acts);
    if (ok) printf("constraints  ok\n");
    else printf("constraints  violated: %s\n", ce.msg);
  }
  return finish_output(0);
}

/* ---- encode ---------------------------------------------------------------------------- */

static int cmd_encode(const space_opts *o) {
  const eahas_preset *p;
  if (get_preset(o, &p)) return 1;
  if (!o->config) {
    cli_error("encode needs a CONFIG (see eahas space encode --help)");
    return 1;
  }
  eahas_config c;
  eahas_err e = {0};
  if (eahas_config_parse(o->config, &c, &e) || eahas_config_validate(&c, p, 0, &e)) {
    cli_error("%s", e.msg);
    return 1;
  }
  float enc[EAHAS_ENCODING_LEN];
  eahas_config_encode(&c, p, enc);
  if (o->json) putchar('[');
  for (int i = 0; i < EAHAS_ENCODING_LEN; i++) printf(i ? (o->json ? ",%.9g" : " %.9g") : "%.9g", (double)enc[i]);
  printf(o->json ? "]\n" : "\n");
  return finish_output(0);
}

/* ---- validate -------------------------------------------------------------------------- */

static int cmd_validate(const space_opts *o) {
  const eahas_preset *p;
  if (get_preset(o, &p)) return 1;
  if (o->config) {
    cli_error("validate reads configs from stdin and takes no CONFIG argument (got '%s')", o->config);
    return 1;
  }
  char *line = NULL;
  size_t cap = 0;
  long lineno = 0, bad = 0, skipped = 0;
  ssize_t got;
  while ((got = getline(&line, &cap, stdin)) >= 0) {
    lineno++;
    /* the lines `query -` skips are skipped here; embedded NUL bytes make a line invalid text */
    long len = cli_config_line(line, (long)got, lineno);
    if (len < 0) {
      skipped++;
      continue;
    }
    eahas_config c;
    eahas_err e = {0};
    int rc;
    if ((size_t)len != strlen(line))
      rc = eahas_err_set(&e, EAHAS_EINVAL, "line contains a NUL byte");
    else
      rc = eahas_config_parse(line, &c, &e);
    if (!rc) rc = eahas_config_validate(&c, p, !o->no_constraints, &e);
    if (!rc) continue;
    bad++;
    if (o->json) {
      printf("{\"line\":%ld,\"error\":", lineno);
      cli_json_string(stdout, e.msg);
      printf("}\n");
    } else {
      printf("line %ld: %s\n", lineno, e.msg);
    }
  }
  int read_failed = ferror(stdin), e = errno;
  free(line);
  if (read_failed) { /* stdin redirected from a directory is bad input, other failures are not */
    cli_error("reading stdin failed after line %ld: %s", lineno, strerror(e));
    return e == EISDIR ? 1 : 2;
  }
  fprintf(stderr, "%ld line%s, %ld bad, %ld blank or comment (preset %s)\n", lineno, lineno == 1 ? "" : "s", bad,
          skipped, p->name);
  return finish_output(bad ? 1 : 0);
}

int cli_space(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(USAGE_SPACE, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  const struct {
    const char *name, *usage;
    int (*fn)(const space_opts *);
  } SUBS[] = {{"sample", USAGE_SAMPLE, cmd_sample},
              {"describe", USAGE_DESCRIBE, cmd_describe},
              {"encode", USAGE_ENCODE, cmd_encode},
              {"validate", USAGE_VALIDATE, cmd_validate}};
  for (int k = 0; k < 4; k++) {
    if (strcmp(argv[1], SUBS[k].name) != 0) continue;
    if (cli_wants_help(argc - 1, argv + 1)) {
      fputs(SUBS[k].usage, stdout);
      return 0;
    }
    space_opts o;
    if (parse_opts(argc, argv, &o)) return 1;
    return SUBS[k].fn(&o);
  }
  cli_error("unknown space command '%s' (sample, describe, encode, validate)", argv[1]);
  fputs(USAGE_SPACE, stderr);
  return 1;
}
