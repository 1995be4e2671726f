/* A progress bar with ETA for the CLI (DESIGN.md "Outputs meant for people"). */
#include "eahas/util.h"

#include <string.h>
#include <unistd.h>

static void fmt_dur(char *buf, size_t n, double s) {
  if (s < 0 || s != s) {
    snprintf(buf, n, "--:--");
    return;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

static void draw(eahas_progress *p, const char *status, int final) {
  if (!p->out) return;
  double el = eahas_now_s() - p->t0;
  double eta = p->done > 0 && p->total > 0 ? el * (double)(p->total - p->done) / (double)p->done : -1;
  char e1[32], e2[32];
  fmt_dur(e1, sizeof e1, el);
  fmt_dur(e2, sizeof e2, eta);
  if (p->is_tty) {
    int width = 24, fill = p->total > 0 ? (int)(width * p->done / p->total) : 0;
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(p->out, "\r\033[K%s [%s] %ld/%ld elapsed %s eta %s%s%s", p->label, bar, p->done, p->total,
            e1, e2, status ? "  " : "", status ? status : "");
    if (final) fputc('\n', p->out);
  } else {
    fprintf(p->out, "%s %ld/%ld elapsed %s eta %s%s%s\n", p->label, p->done, p->total, e1, e2,
            status ? "  " : "", status ? status : "");
  }
  fflush(p->out);
  p->last_draw = eahas_now_s();
}

void eahas_progress_begin(eahas_progress *p, FILE *out, const char *label, long total) {
  memset(p, 0, sizeof *p);
  p->out = out;
  p->label = label ? label : "";
  p->total = total;
  p->t0 = eahas_now_s();
  p->is_tty = out && isatty(fileno(out));
  p->plain_every_s = 10.0;
  p->last_draw = -1e30;
}

void eahas_progress_update(eahas_progress *p, long done, const char *status) {
  p->done = done;
  double now = eahas_now_s();
  double every = p->is_tty ? 0.1 : p->plain_every_s;
  if (now - p->last_draw >= every) draw(p, status, 0);
}

void eahas_progress_end(eahas_progress *p, const char *status) { draw(p, status, 1); }
