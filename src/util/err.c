/* Error values and messages (DESIGN.md "Errors"). */
#include "eahas/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int eahas_err_set(eahas_err *err, int code, const char *fmt, ...) {
  if (!err) return code;
  err->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return code;
}

int eahas_err_prefix(eahas_err *err, int code, const char *fmt, ...) {
  if (!err) return code;
  char prefix[EAHAS_ERR_MSG_MAX], old[EAHAS_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  /* Build into a local buffer then copy: both parts may be long, truncation is acceptable. */
  size_t lp = strnlen(prefix, sizeof prefix), lo = strnlen(old, sizeof old);
  size_t cap = sizeof err->msg - 1, k = 0;
  for (size_t i = 0; i < lp && k < cap; i++) err->msg[k++] = prefix[i];
  for (size_t i = 0; i < 2 && k < cap; i++) err->msg[k++] = ": "[i];
  for (size_t i = 0; i < lo && k < cap; i++) err->msg[k++] = old[i];
  err->msg[k] = '\0';
  if (err->code == 0) err->code = code;
  return err->code;
}

const char *eahas_strerror(int code) {
  switch (code) {
  case EAHAS_OK: return "success";
  case EAHAS_EINVAL: return "invalid input";
  case EAHAS_EIO: return "I/O error";
  case EAHAS_ENOMEM: return "out of memory";
  case EAHAS_EFORMAT: return "malformed file";
  case EAHAS_ENOTFOUND: return "not found";
  case EAHAS_EUNAVAIL: return "not available";
  case EAHAS_EPERM: return "permission denied";
  case EAHAS_EDIVERGED: return "training diverged";
  case EAHAS_ECONSTRAINT: return "constraints not satisfiable";
  case EAHAS_EINTERNAL: return "internal error";
  default: return "unknown error";
  }
}

int eahas_exit_status(int code) {
  switch (code) {
  case EAHAS_OK: return 0;
  case EAHAS_EINVAL: case EAHAS_EFORMAT: case EAHAS_ENOTFOUND: case EAHAS_ECONSTRAINT:
  case EAHAS_EPERM: case EAHAS_EUNAVAIL:
    return 1;
  default: return 2;
  }
}

const char *eahas_version(void) { return "0.1.0"; }
