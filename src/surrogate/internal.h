/* Helpers shared by the surrogate sources (not public). */
#ifndef EAHAS_SURROGATE_INTERNAL_H
#define EAHAS_SURROGATE_INTERNAL_H
#include "eahas/surrogate.h"

const double *eahas__curve_of(const eahas_run_record *r, int kind);
int eahas__curve_usable(const eahas_run_record *r);
int eahas__tree_usable(const eahas_run_record *r);
void eahas__tree_targets(const eahas_run_record *r, double t[EAHAS_NUM_TQ]);
void eahas__bezier_to_target(const eahas_bezier *b, float *t);
void eahas__target_to_bezier(const float *t, int n, eahas_bezier *b);
#endif
